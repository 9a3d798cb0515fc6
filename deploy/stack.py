"""The whole stack: Kafka + InfluxDB, each local (started here) or external (only checked)."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from deploy import local_influx, local_kafka, local_secrets, private_files
from deploy.processes import Log, ServerError, free_ports, http_ok, open_private, port_open
from streams.infra.settings import Settings

KAFKA = "kafka"
INFLUXDB = "influxdb"


def isolated_settings(state_dir: Path, **overrides: Any) -> Settings:
    """Settings of a local stack of its own (tests, the bench): its own state dir and free
    loopback ports for both servers and the rules and writer web servers; the simulated clock, since
    these stacks run accelerated timelines (a test of the production clock overrides it); the rest
    as configured."""
    kafka, controller, influx, influx_rpc, rules_web, writer_web = free_ports(6)
    values: dict[str, Any] = {
        "state_dir": state_dir,
        "local_kafka_port": kafka,
        "local_kafka_controller_port": controller,
        "local_influx_port": influx,
        "local_influx_rpc_port": influx_rpc,
        "rules_web_port": rules_web,
        "writer_web_port": writer_web,
        "kafka_bootstrap": None,
        "influx_url": None,
        "simulated_clock": True,
        **overrides,
    }
    return Settings(**values)


@dataclass(frozen=True)
class ServerStatus:
    """One server of the stack as seen right now."""

    name: str
    mode: Literal["local", "external"]
    address: str
    running: bool  # local: its process is alive; external: it answered just now
    pid: int | None
    log_path: Path | None


@dataclass(frozen=True)
class StackStatus:
    """Every server of the stack."""

    servers: tuple[ServerStatus, ...]

    @property
    def all_running(self) -> bool:
        return all(server.running for server in self.servers)

    def get(self, name: str) -> ServerStatus:
        return next(server for server in self.servers if server.name == name)


def _split_hostport(address: str) -> tuple[str, int]:
    address = address.strip().rpartition("://")[2]
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ServerError(f"Kafka bootstrap address {address!r} is not host:port")
    return host.strip("[]"), int(port)


def kafka_reachable(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when any of the comma-separated bootstrap servers accepts a TCP connection."""
    return any(
        port_open(*_split_hostport(address), timeout=timeout)
        for address in bootstrap.split(",")
        if address.strip()
    )


def influx_reachable(base_url: str, timeout: float = 2.0) -> bool:
    """True when {base_url}/ping answers 2xx."""
    return http_ok(f"{base_url}/ping", timeout=timeout)


def status(settings: Settings) -> StackStatus:
    """What runs now; external servers are probed (TCP connect / GET /ping)."""
    servers: list[ServerStatus] = []
    if settings.uses_local_kafka:
        kafka_pid = local_kafka.running_pid(settings)
        servers.append(
            ServerStatus(
                KAFKA,
                "local",
                settings.bootstrap,
                kafka_pid is not None,
                kafka_pid,
                local_kafka.KafkaPaths.of(settings.state_dir).log,
            )
        )
    else:
        servers.append(
            ServerStatus(
                KAFKA, "external", settings.bootstrap, kafka_reachable(settings.bootstrap), None, None
            )
        )
    if settings.uses_local_influx:
        influx_pid = local_influx.running_pid(settings)
        servers.append(
            ServerStatus(
                INFLUXDB,
                "local",
                settings.influx_base_url,
                influx_pid is not None,
                influx_pid,
                local_influx.InfluxPaths.of(settings.state_dir).log,
            )
        )
    else:
        servers.append(
            ServerStatus(
                INFLUXDB,
                "external",
                settings.influx_base_url,
                influx_reachable(settings.influx_base_url),
                None,
                None,
            )
        )
    return StackStatus(tuple(servers))


@contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    """Serialise `up`/`down` of one state dir across processes."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open_private(state_dir / ".stack.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _locked_log(log: Log) -> Log:
    lock = threading.Lock()

    def emit(line: str) -> None:
        with lock:
            log(line)

    return emit


def _run_all(tasks: dict[str, Callable[[], object]]) -> None:
    """Run the tasks in parallel; raise one ServerError naming every failure."""
    with ThreadPoolExecutor(max_workers=max(1, len(tasks))) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
    failed = {name: exc for name, f in futures.items() if (exc := f.exception()) is not None}
    if failed:
        message = "\n".join(
            str(exc) if isinstance(exc, ServerError) else f"{name}: {exc!r}" for name, exc in failed.items()
        )
        raise ServerError(message) from next(iter(failed.values()))


def _check_kafka(settings: Settings, log: Log) -> None:
    if not kafka_reachable(settings.bootstrap):
        raise ServerError(f"Kafka at {settings.bootstrap} (IVIGWATCH_KAFKA_BOOTSTRAP) accepts no connection")
    log(f"Kafka (external) reachable at {settings.bootstrap}")


def _check_influx(settings: Settings, log: Log) -> None:
    if not influx_reachable(settings.influx_base_url):
        raise ServerError(
            f"InfluxDB at {settings.influx_base_url} (IVIGWATCH_INFLUX_URL) does not answer GET /ping"
        )
    log(f"InfluxDB (external) reachable at {settings.influx_base_url}")


def up(settings: Settings, log: Log = print) -> StackStatus:
    """Start whatever local server is not running (reusing running ones) and wait until ready.

    External servers (IVIGWATCH_KAFKA_BOOTSTRAP / IVIGWATCH_INFLUX_URL) are only checked.
    Raises ServerError when a server cannot be started or reached.
    """
    emit = _locked_log(log)
    with _state_lock(settings.state_dir):
        repaired = private_files.make_private(settings.state_dir)  # a state dir made before 0700/0600
        if repaired:
            emit(f"State dir {settings.state_dir}: {repaired} entries made readable by their owner only")
        if settings.local_stack_secured:  # before the threads: both servers use the same logins
            local_secrets.ensure_logins(settings)
            if settings.uses_local_kafka:
                local_secrets.ensure_certificates(settings)
        tasks: dict[str, Callable[[], object]] = {}
        if settings.uses_local_influx:
            local_influx.ensure_influxd(emit)  # apt-get, if needed, before the threads start
            tasks[INFLUXDB] = lambda: local_influx.ensure_running(settings, emit)
        else:
            tasks[INFLUXDB] = lambda: _check_influx(settings, emit)
        if settings.uses_local_kafka:
            local_kafka.ensure_tools(settings, emit)
            tasks[KAFKA] = lambda: local_kafka.ensure_running(settings, emit)
        else:
            tasks[KAFKA] = lambda: _check_kafka(settings, emit)
        try:
            _run_all(tasks)
        except ServerError:
            with contextlib.suppress(ServerError, OSError):  # never hide why the start failed
                private_files.make_private(settings.state_dir)
            raise
        private_files.make_private(settings.state_dir)  # the configs, logs and pid files written here
    return status(settings)


def down(settings: Settings, log: Log = print) -> None:
    """Stop the local servers of this state dir; external servers are left alone."""
    emit = _locked_log(log)
    with _state_lock(settings.state_dir):
        tasks: dict[str, Callable[[], object]] = {}
        if settings.uses_local_kafka:
            tasks[KAFKA] = lambda: local_kafka.stop(settings, emit)
        else:
            emit(f"Kafka is external ({settings.bootstrap}): nothing to stop")
        if settings.uses_local_influx:
            tasks[INFLUXDB] = lambda: local_influx.stop(settings, emit)
        else:
            emit(f"InfluxDB is external ({settings.influx_base_url}): nothing to stop")
        _run_all(tasks)
