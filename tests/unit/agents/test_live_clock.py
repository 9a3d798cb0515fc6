"""The live clocks and the arrival bound (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.live_clock import SimulatedClock, WallClock
from models.parsing import arrival_time, time_problem

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_the_wall_clock_ignores_event_times() -> None:
    clock = WallClock()
    clock.observe(datetime(2099, 1, 1, tzinfo=UTC))
    assert clock.now() < datetime.now(UTC) + timedelta(seconds=5)


def test_the_simulated_clock_follows_the_latest_event() -> None:
    clock = SimulatedClock()
    ahead = datetime.now(UTC) + timedelta(hours=2)
    clock.observe(ahead)
    assert clock.now() == ahead


def test_the_arrival_is_the_record_time_never_after_now() -> None:
    assert arrival_time((NOW - timedelta(hours=1)).timestamp(), NOW) == NOW - timedelta(hours=1)
    assert arrival_time((NOW + timedelta(days=3)).timestamp(), NOW) == NOW
    assert arrival_time(None, NOW) == NOW


def test_only_a_message_timed_beyond_the_skew_ahead_of_its_arrival_is_refused() -> None:
    skew = timedelta(minutes=5)
    assert time_problem(NOW + timedelta(minutes=5), NOW, skew) == []
    assert time_problem(NOW - timedelta(days=30), NOW, skew) == []  # late is never refused
    assert time_problem(NOW + timedelta(minutes=6), NOW, skew) == [
        "(ts): timed more than 5 min ahead of its arrival [ts_ahead_of_arrival]"
    ]


def test_the_settled_simulated_clock_is_its_reading_of_a_few_seconds_ago(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall = {"t": 1000.0}
    monkeypatch.setattr("agents.live_clock.time.monotonic", lambda: wall["t"])
    clock = SimulatedClock()
    assert clock.settled(2.0) < datetime.now(UTC)  # no event seen yet: the wall clock's part
    first = datetime.now(UTC) + timedelta(days=2)
    clock.observe(first)
    assert clock.settled(2.0) < first  # nothing observed 2 s ago yet: the wall clock's part only
    wall["t"] += 1.0
    clock.observe(first + timedelta(minutes=5))
    wall["t"] += 1.5
    assert clock.settled(2.0) == first
    wall["t"] += 1.0
    assert clock.settled(2.0) == first + timedelta(minutes=5)
    assert clock.now() == first + timedelta(minutes=5)


def test_the_settled_wall_clock_is_behind_by_the_delay() -> None:
    settled = WallClock().settled(2.0)
    assert datetime.now(UTC) - timedelta(seconds=3) < settled < datetime.now(UTC) - timedelta(seconds=1.9)


def test_arrivals_the_simulated_clock_counts_event_time_the_wall_clock_the_record() -> None:
    ts = NOW - timedelta(hours=1)
    assert SimulatedClock().arrival(ts, (NOW - timedelta(days=1)).timestamp()) == ts
    assert WallClock().arrival(ts, (NOW - timedelta(minutes=59)).timestamp()) == NOW - timedelta(minutes=59)
