"""Start and stop the nurse console (`ivigwatch console`) as a child process: the demo, the browser tests."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import terminate
from deploy.workers import spawn_cli
from streams.infra.settings import Settings


class ConsoleError(RuntimeError):
    """The console did not start; the message quotes the end of its log."""


@dataclass
class ConsoleProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str
    """Base URL, e.g. http://127.0.0.1:8080"""

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def answers(self) -> bool:
        """True once the login page is served."""
        try:
            with urllib.request.urlopen(f"{self.url}/login", timeout=1.0) as resp:  # noqa: S310 - loopback
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False


def start_console(
    settings: Settings, extra_env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> ConsoleProcess:
    """`ivigwatch console` with these settings (plus `extra_env`); returns once /login answers."""
    env = {**os.environ, **settings.to_env(), **(extra_env or {})}
    host = env.get("IVIGWATCH_CONSOLE_HOST", settings.console_host)
    port = env.get("IVIGWATCH_CONSOLE_PORT", str(settings.console_port))
    process, log_path = spawn_cli(["console"], settings, "console", extra_env)
    shown_host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104 - only compared
    console = ConsoleProcess(process, log_path, f"http://{shown_host}:{port}")
    deadline = time.monotonic() + timeout
    while not console.answers():
        if process.poll() is not None:
            raise ConsoleError(f"the nurse console exited ({process.returncode}):\n{console.log_tail()}")
        if time.monotonic() > deadline:
            stop_console(console)
            raise ConsoleError(
                f"the nurse console did not answer on {console.url} in {timeout:.0f} s:\n{console.log_tail()}"
            )
        time.sleep(0.25)
    return console


def stop_console(console: ConsoleProcess, grace: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    return terminate(console.process, grace)
