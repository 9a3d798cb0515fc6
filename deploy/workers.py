"""Start and stop the Faust workers (rules, writer, pager) and the watchdog, for the demo and the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy import influx_roles
from deploy.processes import OWNER_ONLY_UMASK, free_ports, open_private, terminate
from streams.infra.settings import Settings


class WorkerError(RuntimeError):
    """A worker did not become healthy; the message quotes the end of its log."""


@dataclass
class WorkerProcess:
    role: str
    process: subprocess.Popen[bytes]
    log_path: Path
    health_url: str

    def health(self, timeout: float = 1.0) -> dict[str, Any] | None:
        """The worker's /healthz answer, or None while it does not answer."""
        try:
            with urllib.request.urlopen(self.health_url, timeout=timeout) as resp:  # noqa: S310 - loopback
                payload: dict[str, Any] = json.loads(resp.read())
                return payload
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def spawn_cli(
    args: list[str], settings: Settings, log_name: str, extra_env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    """Start `ivigwatch ARGS...` as a child process with these settings (plus `extra_env`), its
    output appended to `<state dir>/logs/LOG_NAME.log`; returns the process and the log's path.

    The child gets only the InfluxDB logins its command uses (`influx_roles`), and umask 077: its
    log, Faust data dir and other files are readable by their owner only."""
    log_dir = settings.state_dir / "logs"
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = log_dir / f"{log_name}.log"
    env = influx_roles.child_env(args, {**os.environ, **settings.to_env(), **(extra_env or {})})
    with open_private(log_path) as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.apps.cli.main", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            umask=OWNER_ONLY_UMASK,
        )
    return process, log_path


def start_worker(
    role: str,
    settings: Settings,
    extra_env: Mapping[str, str] | None = None,
    log_name: str | None = None,
) -> WorkerProcess:
    """Start `ivigwatch worker ROLE` as a child process with these settings; logs to a file
    (`worker-ROLE.log`, or `worker-LOG_NAME.log`)."""
    ports = {"rules": settings.rules_web_port, "pager": settings.pager_web_port}
    port = ports.get(role, settings.writer_web_port)
    process, log_path = spawn_cli(["worker", role], settings, f"worker-{log_name or role}", extra_env)
    return WorkerProcess(role, process, log_path, f"http://{settings.web_host}:{port}/healthz")


def wait_healthy(worker: WorkerProcess, timeout: float = 90.0) -> dict[str, Any]:
    """Wait until the worker answers /healthz with partitions assigned; fail early if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise WorkerError(
                f"{worker.role} worker exited ({worker.process.returncode}):\n{worker.log_tail()}"
            )
        health = worker.health()
        if health and health.get("role") == "watchdog" and health.get("ready"):
            return health  # the watchdog has read its history and taken its first sample
        if health and health.get("assigned_partitions", 0) > 0 and not health.get("rebalancing"):
            return health
        time.sleep(0.5)
    raise WorkerError(f"{worker.role} worker not ready after {timeout:.0f}s:\n{worker.log_tail()}")


def start_watchdog(settings: Settings, extra_env: Mapping[str, str] | None = None) -> WorkerProcess:
    """Start `ivigwatch watchdog` as a child process (wait for it with `wait_healthy`); logs to a file."""
    process, log_path = spawn_cli(["watchdog"], settings, "watchdog", extra_env)
    url = f"http://{settings.web_host}:{settings.watchdog_web_port}/healthz"
    return WorkerProcess("watchdog", process, log_path, url)


def stop_worker(worker: WorkerProcess, grace: float = 20.0) -> int:
    """SIGTERM (Faust leaves the group cleanly), then SIGKILL after `grace` seconds."""
    return terminate(worker.process, grace)


def replica_settings(settings: Settings, role: str, name: str) -> Settings:
    """Settings for one more worker of `role` on this machine: its own web port and Faust datadir
    (Faust workers sharing a datadir would share their local table stores)."""
    (port,) = free_ports(1)
    field = {"rules": "rules_web_port", "pager": "pager_web_port"}.get(role, "writer_web_port")
    datadir = settings.state_dir / "faust" / f"{role}-{name}"
    return settings.model_copy(update={field: port, "worker_datadir": datadir})


def start_replica(role: str, settings: Settings, name: str) -> WorkerProcess:
    """Start another worker of `role` in the same consumer group, named `name` (log worker-ROLE-NAME.log)."""
    return start_worker(role, replica_settings(settings, role, name), log_name=f"{role}-{name}")


def kill_worker(worker: WorkerProcess, timeout: float = 10.0) -> int:
    """SIGKILL, as a crash would: no clean leave, no flush, no commit. Returns the exit status."""
    worker.process.kill()
    return worker.process.wait(timeout)
