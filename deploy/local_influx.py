"""The local InfluxDB 1.x server (Debian's `influxdb` package), run from our state dir."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from string import Template

from deploy.processes import (
    Log,
    ServerError,
    ensure_tool,
    free_port,
    http_ok,
    http_request,
    port_open,
    read_pid,
    start_detached,
    stop_server,
    wait_ready,
)
from streams import influx_schema
from streams.influx import InfluxClient, InfluxUnavailable
from streams.settings import Settings

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


def render_config(paths: InfluxPaths, http_port: int, rpc_port: int) -> str:
    """influxdb.conf with every dir under `paths.root` and both listeners on loopback."""
    return Template(CONF_TEMPLATE.read_text()).substitute(
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


def create_database(base_url: str, db: str) -> None:
    """CREATE DATABASE (a no-op when it exists); raises ServerError on any error."""
    query = f"CREATE DATABASE {quote_identifier(db)}"
    try:
        status, body = http_request(f"{base_url}/query", data={"q": query}, timeout=10.0)
    except OSError as exc:
        raise ServerError(f"InfluxDB at {base_url} is unreachable: {exc}") from exc
    error: object = None
    try:
        parsed = json.loads(body or b"{}")
        error = parsed.get("error") or next(
            (r["error"] for r in parsed.get("results", []) if "error" in r), None
        )
    except (ValueError, AttributeError, TypeError):
        error = body[:200].decode(errors="replace")
    if status != 200 or error:
        raise ServerError(f"Creating database {db!r} failed: HTTP {status}: {error}")


def ensure_schema(settings: Settings, log: Log = print) -> list[str]:
    """Retention policies and the vitals rollup (streams/influx_schema.py); ServerError on failure."""

    async def run() -> list[str]:
        async with InfluxClient(settings) as client:
            return await influx_schema.ensure_schema(client, settings)

    try:
        with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop, even under a running one
            changes = pool.submit(asyncio.run, run()).result()
    except (InfluxUnavailable, RuntimeError) as exc:
        raise ServerError(
            f"Setting up retention and rollups of {settings.influx_db!r} failed: {exc}"
        ) from exc
    if changes:
        log(f"InfluxDB {settings.influx_db!r}: " + "; ".join(influx_schema.short(c) for c in changes))
    return changes


def database_exists(base_url: str, db: str) -> bool:
    """True when SHOW DATABASES lists `db`."""
    status, body = http_request(f"{base_url}/query", data={"q": "SHOW DATABASES"}, timeout=10.0)
    if status != 200:
        return False
    for result in json.loads(body).get("results", []):
        for series in result.get("series", []):
            if [db] in series.get("values", []):
                return True
    return False


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
        create_database(base_url, settings.influx_db)
        ensure_schema(settings, log)
        log(f"InfluxDB already running on {HOST}:{port} (pid {pid})")
        return pid
    if port_open(HOST, port):
        raise ServerError(
            f"Port {HOST}:{port} is taken by another program, not this stack's InfluxDB "
            f"(state dir {settings.state_dir}): stop it or set IVIGWATCH_LOCAL_INFLUX_PORT"
        )
    influxd = ensure_influxd(log)
    for folder in (paths.meta, paths.data, paths.wal):
        folder.mkdir(parents=True, exist_ok=True)
    paths.conf.write_text(render_config(paths, port, free_port(HOST)))
    log(f"Starting InfluxDB on {HOST}:{port}...")
    started = time.monotonic()
    pid = start_detached(
        [influxd, "-config", str(paths.conf)],
        log_path=paths.log,
        pid_path=paths.pid,
        cwd=paths.root,
    )
    wait_ready(pinging, pid=pid, what="InfluxDB", log_path=paths.log, timeout=timeout)
    create_database(base_url, settings.influx_db)
    ensure_schema(settings, log)
    log(
        f"InfluxDB ready on {HOST}:{port} in {time.monotonic() - started:.1f} s "
        f"(pid {pid}, database {settings.influx_db!r})"
    )
    return pid


def stop(settings: Settings, log: Log = print) -> int | None:
    """Stop the local InfluxDB (SIGTERM, SIGKILL after 15 s); its pid or None."""
    paths = InfluxPaths.of(settings.state_dir)
    return stop_server("InfluxDB", paths.pid, paths.identity, log, grace=STOP_GRACE_SECONDS)
