"""The rule runtime's live-state cache: the table stays the truth."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.rules.loader import load_rules
from agents.runtime import READING_BYTES, STATE_BYTES, RulesRuntime
from models.event_id_column import contains
from models.events import Infusion, Vitals
from models.state import PatientState

T0 = datetime.now(UTC).replace(microsecond=0)
HALF_DONE = b"\xff" * 8


def _runtime() -> RulesRuntime:
    return RulesRuntime(rules=load_rules(), table={}, alerts_topic=None, deadletter_topic=None)


def _start(patient: str, at: datetime = T0) -> Infusion:
    return Infusion(
        type="infusion",
        patient_id=patient,
        session_id=f"{patient}-s1",
        ts=at,
        action="start",
        rate_ml_per_h=60,
    )


def test_every_change_is_assigned_back_to_the_table() -> None:
    runtime = _runtime()
    runtime.evaluate(_start("pt-1"))
    runtime.evaluate(
        Vitals(type="vitals", patient_id="pt-1", session_id="pt-1-s1", ts=T0 + timedelta(seconds=1), spo2=97)
    )
    stored = PatientState.model_validate_json(runtime.table[b"pt-1"])
    assert stored == runtime.live["pt-1"]
    assert len(stored.sessions["pt-1-s1"].readings) == 1


def test_after_a_rebalance_state_is_reloaded_from_the_table() -> None:
    runtime = _runtime()
    runtime.evaluate(_start("pt-1"))
    other = _runtime()  # another worker wrote a newer state to the (shared) table
    other.table = runtime.table
    other.evaluate(Vitals(type="vitals", patient_id="pt-1", session_id="pt-1-s1", ts=T0, spo2=97))
    runtime.forget_all()
    state = runtime.load("pt-1")
    assert state is not None
    assert len(state.sessions["pt-1-s1"].readings) == 1


def test_a_failed_evaluation_leaves_no_half_changed_state(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _runtime()
    runtime.evaluate(_start("pt-1"))

    def broken(state: PatientState, *_: Any) -> list[Any]:
        state.seen_event_ids += HALF_DONE
        raise RuntimeError("rule bug")

    monkeypatch.setattr("agents.runtime.process", broken)
    with pytest.raises(RuntimeError):
        runtime.evaluate(_start("pt-1"))
    state = runtime.load("pt-1")
    assert state is not None
    assert not contains(state.seen_event_ids, HALF_DONE)


def test_the_due_index_names_patients_with_a_timer_pending() -> None:
    runtime = _runtime()
    # the start is timed now (the live clock is the wall clock: a start timed when this module was
    # imported, many minutes ago in a slow full run, would have had its timers fired already)
    start = datetime.now(UTC).replace(microsecond=0)
    runtime.evaluate(_start("pt-1", start))  # no vitals: the before-start set is overdue 15 min after
    assert runtime.due_index(0).pop_due(start + timedelta(minutes=10)) == []
    assert runtime.due_index(0).pop_due(start + timedelta(minutes=16)) == ["pt-1"]


def test_live_states_are_bounded_and_the_rest_reload_from_the_table() -> None:
    runtime = _runtime()
    runtime.live_budget = 2 * STATE_BYTES  # two states with no readings
    for patient in ("pt-1", "pt-2", "pt-3"):
        runtime.evaluate(_start(patient))
    assert list(runtime.live) == ["pt-2", "pt-3"]
    state = runtime.load("pt-1")
    assert state is not None
    assert "pt-1-s1" in state.sessions


def test_an_offset_never_delivered_is_counted_as_skipped() -> None:
    runtime = _runtime()
    runtime.committed_offset = lambda partition: 10
    runtime.processed(0, 10)
    runtime.processed(0, 11)
    assert runtime.counts["skipped"] == 0
    runtime.forget_all()  # a rebalance: 10 and 11 were processed here, not yet committed
    runtime.processed(0, 12)  # Faust dropped their redelivery: no loss
    assert runtime.counts["skipped"] == 0
    runtime.processed(0, 16)
    assert runtime.counts["skipped"] == 3  # 13-15 never reached the rules
    runtime.processed(0, 14)  # a redelivery is no loss
    assert runtime.counts["skipped"] == 3
    other = _runtime()  # a worker that never had the partition: the committed offset says
    other.committed_offset = lambda partition: 40
    other.processed(0, 42)
    assert other.counts["skipped"] == 2


def test_live_states_are_bounded_by_the_readings_they_hold_too() -> None:
    runtime = _runtime()
    runtime.live_budget = 3 * STATE_BYTES + 25 * READING_BYTES
    for patient in ("pt-1", "pt-2", "pt-3"):
        runtime.evaluate(_start(patient))
        for second in range(10):
            reading = Vitals(
                type="vitals",
                patient_id=patient,
                session_id=f"{patient}-s1",
                ts=T0 + timedelta(seconds=second),
                spo2=97,
            )
            runtime.evaluate(reading)
    assert list(runtime.live) == ["pt-2", "pt-3"]  # 10 readings each: the third was one too many
    readings = sum(len(s.readings) for state in runtime.live.values() for s in state.sessions.values())
    assert readings == 20
    assert runtime.live_size == 2 * STATE_BYTES + 20 * READING_BYTES
    state = runtime.load("pt-1")
    assert state is not None and len(state.sessions["pt-1-s1"].readings) == 10  # from the table
    runtime.redo("pt-3")  # nothing taken since a checkpoint: dropped, reloaded at its next event
    assert list(runtime.live) == ["pt-2"] and runtime.live_size == STATE_BYTES + 10 * READING_BYTES
    runtime.forget_all()
    assert not runtime.live and runtime.live_size == 0 and not runtime.held_size
