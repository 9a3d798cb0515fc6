"""The local InfluxDB 1.x server (Debian's `influxdb` package), run from our state dir."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any, TypeVar

from deploy import local_secrets
from deploy.processes import (
    Log,
    ServerError,
    ensure_tool,
    http_ok,
    kill_process,
    open_private,
    port_open,
    read_pid,
    start_detached,
    stop_server,
    wait_ready,
)
from streams.infra.settings import InfluxLogin, InfluxRole, Settings
from streams.infra.sinks.influx import influx_schema
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable

T = TypeVar("T")
ROLES: tuple[InfluxRole, ...] = ("admin", "writer", "reader")

CONF_TEMPLATE = Path(__file__).resolve().parent / "influxdb" / "influxdb.conf.template"
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class InfluxPaths:
    """Where the local InfluxDB keeps its files under the state dir."""

    root: Path
    meta: Path
    data: Path
    wal: Path
    conf: Path
    log: Path
    pid: Path

    @classmethod
    def of(cls, state_dir: Path) -> InfluxPaths:
        root = state_dir.resolve() / "influxdb"
        return cls(
            root=root,
            meta=root / "meta",
            data=root / "data",
            wal=root / "wal",
            conf=root / "influxdb.conf",
            log=root / "influxd.log",
            pid=root / "influxd.pid",
        )

    @property
    def identity(self) -> str:
        """A string only our server's command line contains (its config path)."""
        return str(self.conf)


def render_config(paths: InfluxPaths, http_port: int, rpc_port: int, *, auth: bool = True) -> str:
    """influxdb.conf with every dir under `paths.root`, both listeners on loopback, and
    authentication on (`auth`) or off."""
    return Template(CONF_TEMPLATE.read_text()).substitute(
        auth_enabled="true" if auth else "false",
        meta_dir=paths.meta,
        data_dir=paths.data,
        wal_dir=paths.wal,
        http_bind=f"{HOST}:{http_port}",
        rpc_bind=f"{HOST}:{rpc_port}",
    )


def ensure_influxd(log: Log = print) -> str:
    """Path of `influxd` (installing Debian's influxdb package when missing and root)."""
    return ensure_tool("influxd", "influxdb", log=log, alternative="or set IVIGWATCH_INFLUX_URL to a server")


def quote_identifier(name: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run_async(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on its own event loop, even when called under a running one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()


async def _ensure_users(settings: Settings) -> list[str]:
    """The admin (ALL PRIVILEGES), writer (WRITE) and reader (READ) users of the generated logins;
    the first admin is created without a login, as InfluxDB allows while it has no admin."""
    logins = {role: settings.influx_login(role) for role in ROLES}
    changes: list[str] = []
    async with InfluxClient(settings, role="admin") as admin:
        try:
            existing = await admin.query("SHOW USERS")
        except RuntimeError as exc:
            if "create admin user first" not in str(exc):
                raise ServerError(
                    f"InfluxDB in {InfluxPaths.of(settings.state_dir).root} refuses the generated admin "
                    f"login of {settings.secrets_dir} ({exc}): its users were made with other passwords. "
                    "Remove that InfluxDB data dir (its points are lost) or run with "
                    "IVIGWATCH_LOCAL_SECURE=false"
                ) from None
            first = logins["admin"]
            assert first is not None  # noqa: S101 - the secured local stack always has one
            async with InfluxClient(settings, role=None) as anonymous:
                await _create(anonymous, first, admin=True)
            changes.append(f"created admin user {first.username}")
            existing = await admin.query("SHOW USERS")
        names = {row[0] for s in existing for row in s.get("values", [])}
        for role in ("writer", "reader"):
            login = logins[role]
            assert login is not None  # noqa: S101
            if login.username not in names:
                await _create(admin, login, admin=False)
                changes.append(f"created {role} user {login.username}")
        await admin.ensure_database()  # and grants WRITE / READ on it to the writer / reader
    return changes


async def _create(client: InfluxClient, login: InfluxLogin, *, admin: bool) -> None:
    """CREATE USER; an error text never carries the password."""
    try:
        await client.query(_create_user(login, admin=admin), write=True)
    except RuntimeError as exc:
        secret = login.password.get_secret_value()
        raise RuntimeError(f"creating user {login.username}: {str(exc).replace(secret, '***')}") from None


def _create_user(login: InfluxLogin, *, admin: bool) -> str:
    password = login.password.get_secret_value().replace("\\", "\\\\").replace("'", "\\'")
    statement = f"CREATE USER {quote_identifier(login.username)} WITH PASSWORD '{password}'"
    return statement + (" WITH ALL PRIVILEGES" if admin else "")


def prepare(settings: Settings, log: Log = print) -> list[str]:
    """Users (secured stack), database and retention policies (the vitals rollup's included), as the admin;
    ServerError naming what failed (never a password)."""

    async def run() -> list[str]:
        users = await _ensure_users(settings) if settings.local_secure else []
        async with InfluxClient(settings, role="admin") as client:
            return users + await influx_schema.ensure_schema(client, settings)

    try:
        changes = _run_async(run)
    except (InfluxUnavailable, RuntimeError) as exc:
        if isinstance(exc, ServerError):
            raise
        raise ServerError(f"Setting up InfluxDB database {settings.influx_db!r} failed: {exc}") from exc
    if changes:
        log(f"InfluxDB {settings.influx_db!r}: " + "; ".join(influx_schema.short(c) for c in changes))
    return changes


def database_exists(settings: Settings) -> bool:
    """True when SHOW DATABASES (as the admin) lists the configured database."""

    async def run() -> bool:
        async with InfluxClient(settings, role="admin") as client:
            series = await client.query("SHOW DATABASES")
        return any([settings.influx_db] in s.get("values", []) for s in series)

    return _run_async(run)


def running_pid(settings: Settings) -> int | None:
    """Pid of the local InfluxDB of this state dir, or None when it is not running."""
    paths = InfluxPaths.of(settings.state_dir)
    return read_pid(paths.pid, paths.identity)


def ensure_running(settings: Settings, log: Log = print) -> int:
    """Start the local InfluxDB unless it runs; wait for /ping; create the database; its pid."""
    paths = InfluxPaths.of(settings.state_dir)
    port = settings.local_influx_port
    base_url = f"http://{HOST}:{port}"

    def pinging() -> bool:
        return http_ok(f"{base_url}/ping")

    timeout = settings.stack_start_timeout
    pid = read_pid(paths.pid, paths.identity)
    if pid is not None:
        wait_ready(pinging, pid=pid, what="InfluxDB", log_path=paths.log, timeout=timeout)
        prepare(settings, log)
        log(f"InfluxDB already running on {HOST}:{port} (pid {pid})")
        return pid
    if port_open(HOST, port):
        raise ServerError(
            f"Port {HOST}:{port} is taken by another program, not this stack's InfluxDB "
            f"(state dir {settings.state_dir}): stop it or set IVIGWATCH_LOCAL_INFLUX_PORT"
        )
    rpc_port = settings.local_influx_rpc_port
    if port_open(HOST, rpc_port):
        raise ServerError(
            f"Port {HOST}:{rpc_port} (InfluxDB's backup/restore service) is taken by another program: "
            "stop it or set IVIGWATCH_LOCAL_INFLUX_RPC_PORT"
        )
    influxd = ensure_influxd(log)
    if settings.local_secure:
        local_secrets.ensure_logins(settings)
    for folder in (paths.meta, paths.data, paths.wal):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open_private(paths.conf, "w") as conf:
        conf.write(render_config(paths, port, rpc_port, auth=settings.local_secure))
    log(f"Starting InfluxDB on {HOST}:{port}...")
    started = time.monotonic()
    pid = start_detached(
        [influxd, "-config", str(paths.conf)],
        log_path=paths.log,
        pid_path=paths.pid,
        cwd=paths.root,
    )
    wait_ready(pinging, pid=pid, what="InfluxDB", log_path=paths.log, timeout=timeout)
    prepare(settings, log)
    log(
        f"InfluxDB ready on {HOST}:{port} in {time.monotonic() - started:.1f} s "
        f"(pid {pid}, database {settings.influx_db!r})"
    )
    return pid


def stop(settings: Settings, log: Log = print) -> int | None:
    """Stop the local InfluxDB (SIGTERM, SIGKILL after 15 s); its pid or None."""
    paths = InfluxPaths.of(settings.state_dir)
    return stop_server("InfluxDB", paths.pid, paths.identity, log, grace=STOP_GRACE_SECONDS)


def kill(settings: Settings, log: Log = print) -> int | None:
    """kill -9 the local InfluxDB, as a crash would, and wait until it is gone; its pid or None.

    Its meta, data and WAL dirs stay as the crash left them: `ensure_running` starts it again on
    them (same state dir, same HTTP port), and it replays its WAL on start. For fault tests.
    """
    paths = InfluxPaths.of(settings.state_dir)
    pid = kill_process(paths.pid, paths.identity)
    log(f"InfluxDB killed (pid {pid})" if pid is not None else "InfluxDB is not running")
    return pid
