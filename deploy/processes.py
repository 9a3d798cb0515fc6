"""Process plumbing shared by the local servers: detached start, pid files, readiness, stop."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

Log = Callable[[str], None]

LOG_TAIL_LINES = 20
_POLL_SECONDS = 0.1
OWNER_ONLY_UMASK = 0o077
"""umask of every server and worker the stack starts: what they create is 0700 (dirs) / 0600 (files)."""

# Servers started by this Python process, kept so they are reaped (no zombies, no
# "still running" warnings) and so their exit is seen at once.
_children: dict[int, subprocess.Popen[bytes]] = {}
_apt_lock = threading.Lock()
_apt_updated = False


class ServerError(RuntimeError):
    """A local server could not be installed, started, reached or stopped."""


# --- ports and HTTP --------------------------------------------------------------------------


LISTEN_PORTS = range(20000, 32768)
"""Where `free_port` looks: below Linux's ephemeral range (32768-60999), which every outgoing
connection (a Kafka client's, an HTTP client's) takes its local port from, so a port picked here is
not taken by a connection between the pick and the server's bind."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now, outside the ephemeral range."""
    return free_ports(1, host)[0]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports on `host` that nothing listens on right now (see LISTEN_PORTS)."""
    rng = random.SystemRandom()
    found: list[int] = []
    for port in rng.sample(LISTEN_PORTS, min(len(LISTEN_PORTS), 50 * count + 200)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise ServerError(f"no {count} free TCP ports on {host} in {LISTEN_PORTS.start}-{LISTEN_PORTS.stop - 1}")


def http_request(url: str, *, data: dict[str, str] | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET (or POST form `data` to) `url`; returns (status, body). Raises OSError when unreachable.

    Like the app's aiohttp client, the environment's HTTP proxy settings are not used.
    """
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")  # noqa: S310
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def http_ok(url: str, *, timeout: float = 1.0) -> bool:
    """True when GET `url` answers with a 2xx status."""
    try:
        status, _ = http_request(url, timeout=timeout)
    except OSError:
        return False
    return 200 <= status < 300


# --- pid files and liveness ------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True when `pid` is a live (not zombie) process."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None  # reaps it once it has exited
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (or it vanished): trust kill(0)
    fields = stat.rpartition(")")[2].split()  # fields[0] is the state, [17] num_threads
    # A zombie has exited and waits for its parent (often init) to reap it. A leader thread
    # can also show Z while other threads still run: that process is alive.
    return not (fields[0] in ("Z", "X") and int(fields[17]) <= 1)


def process_cmdline(pid: int, *, settle: float = 1.0) -> str | None:
    """The command line of `pid` as one space-joined string, or None when unknown.

    It reads empty for a moment while a fresh child is still inside exec(): waits up to
    `settle` seconds for it to appear.
    """
    deadline = time.monotonic() + settle
    while True:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if raw or time.monotonic() >= deadline or not pid_alive(pid):
            return raw.replace(b"\0", b" ").decode(errors="replace").strip()
        time.sleep(0.01)


def read_pid(pid_path: Path, expect: str) -> int | None:
    """The pid recorded in `pid_path` if that process is alive and its command line has `expect`.

    A stale pid file (dead process, or a pid reused by another program) is removed.
    """
    try:
        pid = int(pid_path.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid_alive(pid):
        cmdline = process_cmdline(pid)
        if cmdline is None and not Path("/proc").is_dir():
            return pid  # cannot check the program on this OS
        if cmdline is not None and expect in cmdline:
            return pid
    else:
        _children.pop(pid, None)
    pid_path.unlink(missing_ok=True)
    return None


def _write_pid(pid_path: Path, pid: int) -> None:
    tmp = pid_path.with_name(pid_path.name + ".tmp")
    with open_private(tmp, "w") as fh:
        fh.write(f"{pid}\n")
    tmp.replace(pid_path)


def open_private(path: Path, mode: str = "ab") -> IO[Any]:
    """Open `path` (created 0600, readable by its owner only) with `mode` ("ab", "w", ...)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, 0o600), mode)


# --- start, wait, stop -----------------------------------------------------------------------


def start_detached(argv: list[str], *, log_path: Path, pid_path: Path, cwd: Path | None = None) -> int:
    """Start `argv` in its own session with stdout+stderr to `log_path`; record its pid.

    The previous log is kept as `<log>.1`. The process outlives the caller and runs with umask 077:
    its files (a server's data) are readable by their owner only, as are the log and pid files.
    """
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if log_path.exists():
        log_path.replace(log_path.with_name(log_path.name + ".1"))
    with open_private(log_path) as log_file:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            umask=OWNER_ONLY_UMASK,
        )
    _children[proc.pid] = proc
    _write_pid(pid_path, proc.pid)
    process_cmdline(proc.pid)  # returns once exec() is complete
    return proc.pid


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a log file (empty when there is none)."""
    try:
        with open(log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _failure(what: str, reason: str, log_path: Path) -> ServerError:
    tail = log_tail(log_path)
    if not tail:
        return ServerError(f"{what} {reason} (log {log_path} is empty)")
    return ServerError(f"{what} {reason}\n--- last lines of {log_path} ---\n{tail}")


def wait_ready(check: Callable[[], bool], *, pid: int, what: str, log_path: Path, timeout: float) -> float:
    """Poll `check` until it passes; returns the seconds waited.

    Fails fast when process `pid` exits, or after `timeout`; the error quotes the log's tail.
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if check():
            return time.monotonic() - started
        if not pid_alive(pid):
            child = _children.pop(pid, None)
            code = f" with code {child.returncode}" if child is not None else ""
            raise _failure(what, f"exited{code} before it was ready", log_path)
        if time.monotonic() >= deadline:
            raise _failure(what, f"was not ready after {timeout:.0f} s (pid {pid})", log_path)
        time.sleep(_POLL_SECONDS)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)  # a session leader we started: take its children too
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def stop_process(pid_path: Path, expect: str, *, grace: float = 15.0) -> int | None:
    """SIGTERM the process of `pid_path`, SIGKILL it after `grace` s; returns its pid or None."""
    pid = read_pid(pid_path, expect)
    if pid is None:
        return None
    _signal(pid, signal.SIGTERM)
    if not _wait_gone(pid, grace):
        _signal(pid, signal.SIGKILL)
        if not _wait_gone(pid, 5.0):
            raise ServerError(f"pid {pid} ({expect}) survived SIGKILL")
    _children.pop(pid, None)
    pid_path.unlink(missing_ok=True)
    return pid


def kill_process(pid_path: Path, expect: str, *, timeout: float = 5.0) -> int | None:
    """SIGKILL the process of `pid_path` at once, as a crash would (no shutdown, nothing flushed that
    it had not already written), and wait until it is gone; returns its pid or None (not running)."""
    pid = read_pid(pid_path, expect)
    if pid is None:
        return None
    _signal(pid, signal.SIGKILL)
    if not _wait_gone(pid, timeout):
        raise ServerError(f"pid {pid} ({expect}) survived SIGKILL")
    _children.pop(pid, None)
    pid_path.unlink(missing_ok=True)
    return pid


def stop_server(what: str, pid_path: Path, expect: str, log: Log, *, grace: float = 15.0) -> int | None:
    """Stop one of our servers with progress lines; its pid, or None when it was not running."""
    if read_pid(pid_path, expect) is None:
        log(f"{what} is not running")
        return None
    log(f"Stopping {what}...")
    started = time.monotonic()
    pid = stop_process(pid_path, expect, grace=grace)
    log(f"{what} stopped in {time.monotonic() - started:.1f} s (pid {pid})")
    return pid


# --- tools -----------------------------------------------------------------------------------


def _apt_get(args: list[str], log: Log) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with subprocess.Popen(
        ["apt-get", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    ) as proc:
        assert proc.stdout is not None  # noqa: S101 - set by stdout=PIPE
        for line in proc.stdout:
            if line.strip() and not line.startswith("(Reading database ..."):  # apt's progress ticks
                log(f"  {line.rstrip()}")
    if proc.returncode != 0:
        raise ServerError(f"`apt-get {' '.join(args)}` failed with code {proc.returncode}")


def ensure_tool(name: str, apt_package: str, *, log: Log = print, alternative: str = "") -> str:
    """Path of executable `name`; installs Debian package `apt_package` when missing and root.

    Not root (or no apt-get): raises ServerError saying how to install it; `alternative` is
    appended to that message (e.g. "or set IVIGWATCH_INFLUX_URL").
    """
    global _apt_updated
    with _apt_lock:
        found = shutil.which(name)
        if found:
            return found
        hint = f"install it with `sudo apt-get install {apt_package}`"
        if alternative:
            hint += f" ({alternative})"
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise ServerError(f"`{name}` is not installed: {hint}")
        if not _apt_updated:
            log("Updating the apt package lists (apt-get update)...")
            _apt_get(["update"], log)
            _apt_updated = True
        log(f"Installing {apt_package} with apt-get (provides `{name}`)...")
        _apt_get(["install", "-y", "--no-install-recommends", apt_package], log)
        found = shutil.which(name)
        if not found:
            raise ServerError(f"`{name}` is still missing after installing {apt_package}: {hint}")
        return found


def terminate(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM a child process, SIGKILL it after `grace` seconds; returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
