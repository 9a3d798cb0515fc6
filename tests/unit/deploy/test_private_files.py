"""The state dir is readable by its owner only: `make_private` repairs an old one, `stack up` runs it,
and the servers it starts get umask 077 (their log and pid files are created 0600)."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import stack
from deploy.private_files import make_private
from deploy.processes import ServerError, start_detached, stop_process, wait_ready


def open_to_others(root: Path) -> list[str]:
    """Every entry under `root` (itself included) with a group or other permission bit."""
    entries = [root, *root.rglob("*")]
    return sorted(
        f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}"
        for p in entries
        if not p.is_symlink() and p.lstat().st_mode & 0o077
    )


def old_state_dir(root: Path) -> Path:
    """A state dir as the stack left it before: dirs 0755, files 0644 (a script 0755)."""
    for folder in (
        "influxdb/data/ivigwatch/autogen/1",
        "influxdb/wal",
        "kafka/data/ivig.events.v1-0",
        "logs",
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
    files = {
        "influxdb/data/ivigwatch/autogen/1/000000001-000000001.tsm": "points",
        "kafka/data/ivig.events.v1-0/00000000000000000000.log": "readings",
        "logs/worker-rules.log": "log",
        "kafka/conf/run.sh": "#!/bin/sh",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
        (root / name).chmod(0o644)
    (root / "kafka/conf/run.sh").chmod(0o755)
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    return root


def test_make_private_repairs_an_old_state_dir(tmp_path: Path) -> None:
    root = old_state_dir(tmp_path / "state")
    assert open_to_others(root)
    changed = make_private(root)
    assert open_to_others(root) == []
    assert changed == len([root, *root.rglob("*")])
    assert stat.S_IMODE((root / "kafka/conf/run.sh").stat().st_mode) == 0o700  # owner bits kept
    assert stat.S_IMODE((root / "logs/worker-rules.log").stat().st_mode) == 0o600
    assert make_private(root) == 0  # nothing left to do


def test_make_private_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "shared.txt"
    outside.write_text("not the stack's")
    outside.chmod(0o644)
    root = tmp_path / "state"
    root.mkdir()
    (root / "link").symlink_to(outside)
    (root / "dirlink").symlink_to(tmp_path)
    make_private(root)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644


def test_a_shared_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sticky = tmp_path / "tmp-like"
    sticky.mkdir()
    sticky.chmod(0o1777)
    with pytest.raises(ServerError, match="shared directory"):
        make_private(sticky)
    assert stat.S_IMODE(sticky.stat().st_mode) == 0o1777
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ServerError, match="shared directory"):
        make_private(home)


@pytest.fixture
def kafka_bootstrap() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_stack_up_repairs_the_state_dir(tmp_path: Path, ping_server: str, kafka_bootstrap: str) -> None:
    root = old_state_dir(tmp_path / "state")
    settings = stack.isolated_settings(root, influx_url=ping_server, kafka_bootstrap=kafka_bootstrap)
    lines: list[str] = []
    assert stack.up(settings, log=lines.append).all_running
    assert open_to_others(root) == []
    assert any("made readable by their owner only" in line for line in lines)


def test_a_server_runs_with_umask_077_and_private_log_and_pid(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        pid_path, log_path = tmp_path / "srv.pid", tmp_path / "logs" / "srv.log"
        argv = ["sh", "-c", "umask; : > made-by-server; sleep 30"]
        pid = start_detached(argv, log_path=log_path, pid_path=pid_path, cwd=tmp_path)
        made = tmp_path / "made-by-server"
        wait_ready(made.exists, pid=pid, what="sh", log_path=log_path, timeout=10)
        assert stat.S_IMODE(pid_path.stat().st_mode) == 0o600
        stop_process(pid_path, "sleep 30", grace=1.0)
    finally:
        os.umask(old)
    assert log_path.read_text().strip() == "0077"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_path.parent.stat().st_mode) == 0o700
