"""The per-minute index gives exactly what a scan of every reading gives, through insertions out of
order, trims and reloads."""

from __future__ import annotations

import bisect
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.rules import minute_index
from agents.rules.minute_index import (
    extreme_between,
    index_of,
    latest_with,
    readings_between,
    readings_since,
)
from agents.rules.session import HISTORY, _trim
from models.state import Reading, SessionState

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

readings = st.lists(
    st.tuples(
        st.integers(0, 3 * 3600 * 1000),  # ms after T0
        st.sampled_from(["spo2", "heart_rate", "systolic_bp"]),
        st.integers(40, 180),
    ),
    min_size=1,
    max_size=120,
)
windows = st.lists(st.tuples(st.integers(-600, 3 * 3600 + 600), st.integers(0, 7200)), min_size=1, max_size=8)


def _at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def _scan(session: SessionState, name: str, since: datetime, until: datetime, lowest: bool) -> float | None:
    values = [r.values[name] for r in session.readings if since <= r.ts <= until and name in r.values]
    return (min(values) if lowest else max(values)) if values else None


def _fill(session: SessionState, items: list[tuple[int, str, int]], trim_every: int) -> None:
    """Insert readings in the given (unsorted) order, trimming as the engine does after some."""
    for n, (ms, name, value) in enumerate(items, start=1):
        reading = Reading(ts=_at(ms), values={name: float(value)})
        bisect.insort_right(session.readings, reading, key=lambda r: r.ts)
        index_of(session).add(reading)
        session.latest_ts[name] = max(session.latest_ts.get(name, reading.ts), reading.ts)
        if n % trim_every == 0:
            _trim(session, max(session.latest_ts.values()))


@settings(max_examples=200, deadline=None)
@given(readings, windows, st.integers(1, 10))
def test_window_extremes_equal_a_scan(
    items: list[tuple[int, str, int]], queries: list[tuple[int, int]], trim_every: int
) -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    _fill(session, items, trim_every)
    reloaded = SessionState.model_validate_json(session.model_dump_json())  # no index yet: rebuilt
    for start_s, length_s in queries:
        since, until = T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=start_s + length_s)
        for name in ("spo2", "heart_rate", "systolic_bp"):
            for lowest in (True, False):
                expected = _scan(session, name, since, until, lowest)
                assert extreme_between(session, name, since, until, lowest=lowest) == expected
                with patch.object(minute_index, "SCAN_AT_MOST", 0):  # the index, however few readings
                    assert extreme_between(session, name, since, until, lowest=lowest) == expected
                    assert extreme_between(reloaded, name, since, until, lowest=lowest) == expected
        assert readings_between(session, since, until) == [
            r for r in session.readings if since <= r.ts <= until
        ]
        assert readings_since(session, since) == [r for r in session.readings if r.ts >= since]


@given(readings)
def test_latest_with_is_the_last_reading_of_the_vital(items: list[tuple[int, str, int]]) -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    _fill(session, items, trim_every=1)
    for name in ("spo2", "heart_rate", "systolic_bp"):
        expected = next((r for r in reversed(session.readings) if name in r.values), None)
        assert latest_with(session, name) is expected


def test_a_window_reaching_past_the_trim_horizon_reads_its_minutes_raw() -> None:
    """Readings trimmed out of a minute leave its bucket's old extreme behind: never used."""
    session = SessionState(session_id="s1", first_ts=T0)
    _fill(session, [(10_000, "spo2", 80), (50_000, "spo2", 85)], trim_every=100)
    newest = T0 + HISTORY + timedelta(seconds=30)  # the horizon falls between the two readings
    _fill(session, [(int((newest - T0).total_seconds() * 1000), "spo2", 96)], trim_every=1)
    assert [r.values["spo2"] for r in session.readings] == [85, 96]
    with patch.object(minute_index, "SCAN_AT_MOST", 0):
        assert extreme_between(session, "spo2", T0 - timedelta(minutes=5), newest, lowest=True) == 85
