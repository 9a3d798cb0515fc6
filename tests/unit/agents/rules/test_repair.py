"""Repair of a stored state poisoned by a future-dated event (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.rules.repair import repair_future
from models.state import PatientState, Reading, SessionState, SymptomReport

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)


def poisoned() -> PatientState:
    session = SessionState(
        session_id="s1", first_ts=NOW - timedelta(hours=1), start_ts=NOW - timedelta(hours=1)
    )
    session.readings = [
        Reading(ts=NOW - timedelta(minutes=30), values={"spo2": 97.0}),
        Reading(ts=FUTURE, values={"spo2": 88.0, "heart_rate": 70.0}),
    ]
    session.latest_ts = {"spo2": FUTURE, "heart_rate": FUTURE}
    session.last_vitals_ts = FUTURE
    session.symptoms = [SymptomReport(ts=FUTURE, symptom="headache", severity="mild")]
    session.stop_ts = FUTURE
    session.pump_running_ts = FUTURE
    return PatientState(patient_id="pt-1", clock=FUTURE, sessions={"s1": session})


def test_a_future_clock_and_what_the_future_event_left_are_undone() -> None:
    state = poisoned()
    assert repair_future(state, NOW, SKEW)
    session = state.sessions["s1"]
    assert state.clock == NOW
    assert [r.ts for r in session.readings] == [NOW - timedelta(minutes=30)]
    assert session.symptoms == []
    assert session.latest_ts == {"spo2": NOW - timedelta(minutes=30)}
    assert session.last_vitals_ts == NOW - timedelta(minutes=30)
    assert session.stop_ts == NOW
    assert session.pump_running_ts == NOW


def test_a_healthy_state_is_left_alone() -> None:
    state = PatientState(patient_id="pt-1", clock=NOW + timedelta(minutes=4))
    before = state.model_copy(deep=True)
    assert not repair_future(state, NOW, SKEW)
    assert state == before
