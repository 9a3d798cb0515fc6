"""Process plumbing with harmless stand-ins (`sleep`, `sh`) for the real servers."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import processes
from deploy.processes import (
    ServerError,
    ensure_tool,
    free_port,
    free_ports,
    http_ok,
    http_request,
    kill_process,
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    start_detached,
    stop_process,
    wait_ready,
)


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A detached `sleep 60` with its pid file; stopped afterwards."""
    pid_path = tmp_path / "sleep.pid"
    pid = start_detached(["sleep", "60"], log_path=tmp_path / "sleep.log", pid_path=pid_path)
    yield pid, pid_path
    stop_process(pid_path, "sleep", grace=1.0)


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


def test_free_ports_stay_out_of_the_ephemeral_range() -> None:
    """An outgoing connection takes its local port from the ephemeral range: a port picked there
    was seen taken by a Kafka client between the pick and the watchdog's bind."""
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = free_ports(20)
    assert all(not low <= port <= high for port in ports), ports


def test_port_open_follows_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_open("127.0.0.1", port)
    assert not port_open("127.0.0.1", port)


def test_start_detached_writes_pid_file_and_new_session(sleeper: tuple[int, Path]) -> None:
    pid, pid_path = sleeper
    assert pid_path.read_text().strip() == str(pid)
    assert pid_alive(pid)
    assert read_pid(pid_path, "sleep 60") == pid
    assert os.getsid(pid) == pid  # survives the caller's terminal/session


def test_read_pid_rejects_another_program(sleeper: tuple[int, Path]) -> None:
    pid, pid_path = sleeper
    assert read_pid(pid_path, "kafka.Kafka") is None
    assert not pid_path.exists()  # stale for our purpose: removed
    pid_path.write_text(f"{pid}\n")  # let the fixture stop it


def test_read_pid_handles_missing_garbage_and_dead(tmp_path: Path) -> None:
    pid_path = tmp_path / "x.pid"
    assert read_pid(pid_path, "sleep") is None
    pid_path.write_text("not a pid")
    assert read_pid(pid_path, "sleep") is None
    pid = start_detached(["true"], log_path=tmp_path / "t.log", pid_path=pid_path)
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)
    assert read_pid(pid_path, "true") is None
    assert not pid_path.exists()


def test_stop_process_terminates_and_removes_pid_file(sleeper: tuple[int, Path]) -> None:
    pid, pid_path = sleeper
    assert stop_process(pid_path, "sleep") == pid
    assert not pid_alive(pid)
    assert not pid_path.exists()
    assert stop_process(pid_path, "sleep") is None


def _start_stubborn(tmp_path: Path, pid_path: Path) -> int:
    """A detached shell that ignores SIGTERM, once it is ready; its pid."""
    pid = start_detached(
        ["sh", "-c", "trap '' TERM; echo ready; sleep 60"],
        log_path=tmp_path / "stubborn.log",
        pid_path=pid_path,
    )
    wait_ready(
        lambda: "ready" in log_tail(tmp_path / "stubborn.log"),
        pid=pid,
        what="stub",
        log_path=tmp_path / "stubborn.log",
        timeout=5,
    )
    return pid


def test_stop_process_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    pid_path = tmp_path / "stubborn.pid"
    pid = _start_stubborn(tmp_path, pid_path)
    started = time.monotonic()
    assert stop_process(pid_path, "trap", grace=0.5) == pid
    assert time.monotonic() - started < 5
    assert not pid_alive(pid)


def test_kill_process_sigkills_at_once_and_removes_pid_file(tmp_path: Path) -> None:
    pid_path = tmp_path / "stubborn.pid"
    pid = _start_stubborn(tmp_path, pid_path)
    assert kill_process(pid_path, "trap") == pid
    assert not pid_alive(pid)
    assert not pid_path.exists()
    assert kill_process(pid_path, "trap") is None


def test_wait_ready_fails_fast_when_the_process_exits(tmp_path: Path) -> None:
    log_path = tmp_path / "boom.log"
    pid = start_detached(
        ["sh", "-c", "for i in $(seq 1 30); do echo line $i; done; echo boom >&2; exit 3"],
        log_path=log_path,
        pid_path=tmp_path / "boom.pid",
    )
    started = time.monotonic()
    with pytest.raises(ServerError) as info:
        wait_ready(lambda: False, pid=pid, what="Boom", log_path=log_path, timeout=30)
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "Boom exited with code 3 before it was ready" in message
    assert "boom" in message.splitlines()[-1]
    assert "line 30" in message
    assert "line 5\n" not in message  # only the last ~20 lines


def test_wait_ready_times_out_with_the_log(sleeper: tuple[int, Path], tmp_path: Path) -> None:
    pid, _ = sleeper
    with pytest.raises(ServerError, match=r"Sleep was not ready after 0 s .*empty"):
        wait_ready(lambda: False, pid=pid, what="Sleep", log_path=tmp_path / "sleep.log", timeout=0.3)


def test_wait_ready_returns_elapsed_seconds(sleeper: tuple[int, Path], tmp_path: Path) -> None:
    pid, _ = sleeper
    calls = iter([False, False, True])
    waited = wait_ready(
        lambda: next(calls), pid=pid, what="Sleep", log_path=tmp_path / "sleep.log", timeout=5
    )
    assert 0.1 <= waited < 2


def test_start_detached_keeps_the_previous_log(tmp_path: Path) -> None:
    log_path = tmp_path / "s.log"
    log_path.write_text("old run\n")
    pid = start_detached(["true"], log_path=log_path, pid_path=tmp_path / "s.pid")
    while pid_alive(pid):
        time.sleep(0.02)
    assert (tmp_path / "s.log.1").read_text() == "old run\n"
    assert log_path.read_text() == ""


def test_log_tail(tmp_path: Path) -> None:
    log_path = tmp_path / "a.log"
    log_path.write_text("".join(f"{i}\n" for i in range(100)))
    assert log_tail(log_path, 3) == "97\n98\n99"
    assert log_tail(tmp_path / "missing.log") == ""


def test_http_helpers(ping_server: str) -> None:
    assert http_request(f"{ping_server}/ping")[0] == 204
    assert http_ok(f"{ping_server}/ping")
    assert not http_ok(f"{ping_server}/nope")
    assert not http_ok(f"http://127.0.0.1:{free_port()}/ping")


def test_ensure_tool_finds_an_installed_tool() -> None:
    assert ensure_tool("sh", "dash").endswith("/sh")


def test_ensure_tool_without_root_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ServerError) as info:
        ensure_tool("influxd", "influxdb", alternative="or set IVIGWATCH_INFLUX_URL")
    message = str(info.value)
    assert "`sudo apt-get install influxdb`" in message
    assert "IVIGWATCH_INFLUX_URL" in message


def test_ensure_tool_as_root_installs_with_apt(monkeypatch: pytest.MonkeyPatch) -> None:
    installed: set[str] = set()
    calls: list[list[str]] = []

    def fake_which(name: str) -> str | None:
        if name == "apt-get":
            return "/usr/bin/apt-get"
        return f"/usr/bin/{name}" if name in installed else None

    def fake_apt(args: list[str], log: processes.Log) -> None:
        calls.append(args)
        if args[0] == "install":
            installed.add({"influxdb": "influxd", "maven": "mvn"}[args[-1]])

    monkeypatch.setattr(shutil, "which", fake_which)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(processes, "_apt_get", fake_apt)
    monkeypatch.setattr(processes, "_apt_updated", False)
    lines: list[str] = []
    assert ensure_tool("influxd", "influxdb", log=lines.append) == "/usr/bin/influxd"
    assert ensure_tool("mvn", "maven", log=lines.append) == "/usr/bin/mvn"
    assert calls == [
        ["update"],
        ["install", "-y", "--no-install-recommends", "influxdb"],
        ["install", "-y", "--no-install-recommends", "maven"],
    ]
    assert any("Installing influxdb" in line for line in lines)


def test_python_is_not_mistaken_for_a_server(tmp_path: Path) -> None:
    pid_path = tmp_path / "me.pid"
    pid_path.write_text(str(os.getpid()))
    assert read_pid(pid_path, "kafka.Kafka") is None
    pid_path.write_text(str(os.getpid()))
    assert read_pid(pid_path, Path(sys.executable).name[:6]) == os.getpid()
