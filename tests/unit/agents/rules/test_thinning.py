"""Thinning a session's aging readings keeps every answer the rules ask for events in order or late
by less than the raw ring, and bounds the history of a 1 Hz stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.rules.minute_index import extreme_between, latest_with, readings_between, readings_since
from agents.rules.session import add_reading
from agents.rules.thinning import RAW_RING, edge_keep, old_keep
from models.events import Vitals
from models.state import PatientState, Reading, SessionState

T0 = datetime(2026, 5, 4, 9, 0, 30, tzinfo=UTC)
TOGETHER = timedelta(minutes=30)
NAMES = ("spo2", "heart_rate", "systolic_bp")


def _vitals(second: float, values: dict[str, float]) -> Vitals:
    return Vitals(
        type="vitals", patient_id="pt-1", session_id="s-1", ts=T0 + timedelta(seconds=second), **values
    )


def _pair() -> tuple[PatientState, SessionState, PatientState, SessionState]:
    """A session that keeps every reading (its baseline is not final) and one that thins."""
    full, thin = PatientState(patient_id="pt-1"), PatientState(patient_id="pt-1")
    kept = full.sessions["s-1"] = SessionState(session_id="s-1", first_ts=T0)
    thinned = thin.sessions["s-1"] = SessionState(session_id="s-1", first_ts=T0, baseline_final=True)
    return full, kept, thin, thinned


def _stream(seconds: int, spread: int, seed_values: list[int], late: list[int]) -> list[Vitals]:
    """A 1 Hz oximeter, a cuff every 7 minutes; some readings moved later in the arrival order by
    less than the raw ring (`late`: seconds of delay, cycled)."""
    events: list[tuple[float, Vitals]] = []
    for s in range(seconds):
        spo2 = 90 + seed_values[s % len(seed_values)] % spread
        if s % 97 == 13:  # a lone spike: only its own minute holds the window's extreme
            spo2 = 80 + seed_values[s % len(seed_values)] % 7 if s % 2 else 96 + s % 5
        pulse = 70 + seed_values[(s * 7) % len(seed_values)] % (spread + 3)
        values: dict[str, float] = {"spo2": spo2, "heart_rate": pulse}
        delay = late[s % len(late)] if late else 0
        events.append((s + delay, _vitals(s, values)))
        if s % 420 == 200:
            cuff = {"systolic_bp": 100 + seed_values[s % len(seed_values)], "heart_rate": pulse}
            events.append((s + 0.5, _vitals(s + 0.5, cuff)))
    events.sort(key=lambda pair: pair[0])
    return [vitals for _, vitals in events]


def _same_answers(kept: SessionState, thinned: SessionState, checks: st.DataObject) -> None:
    newest = max(kept.latest_ts.values())
    assert max(thinned.latest_ts.values()) == newest
    for name in NAMES:
        a, b = latest_with(kept, name), latest_with(thinned, name)
        assert (a and (a.ts, a.values, a.on_oxygen)) == (b and (b.ts, b.values, b.on_oxygen))
    for _ in range(4):
        since = newest - timedelta(
            seconds=checks.draw(st.integers(0, int((TOGETHER + RAW_RING).total_seconds())))
        )
        since += timedelta(milliseconds=checks.draw(st.integers(0, 999)))
        until = newest - timedelta(seconds=checks.draw(st.integers(-60, int(RAW_RING.total_seconds()))))
        for name in NAMES:
            for lowest in (True, False):
                assert extreme_between(kept, name, since, until, lowest=lowest) == extreme_between(
                    thinned, name, since, until, lowest=lowest
                ), (name, lowest, since, until)
        anywhere = newest - timedelta(seconds=checks.draw(st.integers(0, 7200)))
        assert {v for r in readings_since(kept, anywhere) for v in r.values} == {
            v for r in readings_since(thinned, anywhere) for v in r.values
        }
        recent = newest - timedelta(seconds=checks.draw(st.integers(0, int(RAW_RING.total_seconds()))))
        assert [r.ts for r in readings_between(kept, recent, newest + TOGETHER)] == [
            r.ts for r in readings_between(thinned, recent, newest + TOGETHER)
        ]


@settings(max_examples=25, deadline=None)
@given(
    minutes=st.integers(8, 75),
    spread=st.integers(1, 9),
    seed_values=st.lists(st.integers(0, 40), min_size=5, max_size=40),
    late=st.lists(st.integers(0, int(RAW_RING.total_seconds()) - 1), max_size=6),
    checks=st.data(),
)
def test_thinned_history_answers_as_the_full_one(
    minutes: int, spread: int, seed_values: list[int], late: list[int], checks: st.DataObject
) -> None:
    full, kept, thin, thinned = _pair()
    events = _stream(minutes * 60, spread, seed_values, late)
    for n, vitals in enumerate(events, start=1):
        add_reading(full, kept, vitals, {}, TOGETHER)
        add_reading(thin, thinned, vitals, {}, TOGETHER)
        if n % 997 == 0 or n == len(events):
            _same_answers(kept, thinned, checks)


minute = st.lists(
    st.tuples(
        st.integers(0, 59_999),
        st.dictionaries(st.sampled_from(NAMES), st.integers(60, 100), min_size=1, max_size=2),
    ),
    min_size=1,
    max_size=60,
)


def _extreme(readings: list[Reading], name: str, lowest: bool) -> float | None:
    values = [r.values[name] for r in readings if name in r.values]
    return (min(values) if lowest else max(values)) if values else None


@settings(max_examples=300, deadline=None)
@given(minute)
def test_an_edge_minute_keeps_every_suffix_extreme_and_an_old_one_its_extremes_and_lasts(
    items: list[tuple[int, dict[str, int]]],
) -> None:
    readings = sorted(
        (
            Reading(ts=T0 + timedelta(milliseconds=ms), values={k: float(v) for k, v in values.items()})
            for ms, values in items
        ),
        key=lambda r: r.ts,
    )
    edge, old = edge_keep(readings), old_keep(readings)
    for kept in (edge, old):  # a subset, in order
        positions = [next(i for i, r in enumerate(readings) if r is k) for k in kept]
        assert positions == sorted(set(positions))
    for name in NAMES:
        holding = [r for r in readings if name in r.values]
        for lowest in (True, False):
            assert _extreme(old, name, lowest) == _extreme(readings, name, lowest)
            for cut in readings:
                suffix = [r for r in readings if r.ts >= cut.ts]
                assert _extreme([r for r in edge if r.ts >= cut.ts], name, lowest) == _extreme(
                    suffix, name, lowest
                )
        if holding:
            assert [r for r in old if name in r.values][-1] is holding[-1]
            assert [r for r in edge if name in r.values][-1] is holding[-1]


def test_a_one_hertz_stream_keeps_a_bounded_history() -> None:
    full, kept, thin, thinned = _pair()
    for vitals in _stream(150 * 60, 9, list(range(0, 40, 3)), []):
        add_reading(full, kept, vitals, {}, TOGETHER)
        add_reading(thin, thinned, vitals, {}, TOGETHER)
    assert len(kept.readings) > 7_000  # two hours at 1 Hz
    # the raw ring (~6 min), suffix records of 30 edge minutes, lows/highs/lasts of the rest
    assert len(thinned.readings) < 1_800
    assert len(thinned.readings) < len(kept.readings) / 4


def test_thinning_waits_for_the_final_baseline_then_thins_the_backlog_once() -> None:
    state = PatientState(patient_id="pt-1")
    session = state.sessions["s-1"] = SessionState(session_id="s-1", first_ts=T0)
    events = _stream(40 * 60, 5, [3, 1, 4, 1, 5, 9, 2, 6], [])
    for vitals in events[:1200]:
        add_reading(state, session, vitals, {}, TOGETHER)
    assert len(session.readings) == 1200  # all of them
    assert not session.thinned
    session.baseline_final = True
    add_reading(state, session, events[1200], {}, TOGETHER)
    assert session.thinned
    assert len(session.readings) < 700


def test_a_reload_thins_exactly_as_staying_in_memory() -> None:
    """Thinning is decided by the events (and stored state), never by what memory holds: a state
    reloaded from its JSON at any point keeps the same readings."""
    state = PatientState(patient_id="pt-1")
    state.sessions["s-1"] = SessionState(session_id="s-1", first_ts=T0, baseline_final=True)
    reloaded = PatientState.model_validate_json(state.model_dump_json())
    for n, vitals in enumerate(_stream(50 * 60, 7, [5, 3, 8, 1, 9, 2], [0, 0, 30, 0, 200]), start=1):
        add_reading(state, state.sessions["s-1"], vitals, {}, TOGETHER)
        add_reading(reloaded, reloaded.sessions["s-1"], vitals, {}, TOGETHER)
        if n % 311 == 0:
            reloaded = PatientState.model_validate_json(reloaded.model_dump_json())
    assert reloaded.sessions["s-1"].readings == state.sessions["s-1"].readings
