"""The gateway's memory of each patient's most recent infusion session, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.apps.gateway.session_memory import SessionMemory

T = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_the_latest_session_wins_a_late_older_one_does_not_and_a_restart_remembers(tmp_path: Path) -> None:
    path = tmp_path / "gateway" / "sessions.json"
    memory = SessionMemory(path)
    assert memory.session_of("pt-1") is None
    memory.learn("pt-1", "pt-1-d1", T)
    memory.learn("pt-1", "pt-1-d2", T + timedelta(days=1))
    memory.learn("pt-1", "pt-1-d1", T + timedelta(hours=2))  # a late upload of the first day's pump log
    assert memory.session_of("pt-1") == "pt-1-d2"
    assert SessionMemory(path).session_of("pt-1") == "pt-1-d2"
    assert path.stat().st_mode & 0o077 == 0
