"""The live clocks and the arrival bound (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
