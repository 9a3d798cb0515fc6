"""When a session's infusion began for the phases, and where its baseline came from (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.rules.engine import advance
from agents.rules.loader import load_rules
from agents.rules.session import apply_infusion, effective_stop, phase_at
from models.events import Infusion
from models.ruleset import Phase
from models.state import PatientState, SessionState

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
RULES = load_rules()


def pump(action: str, minutes: float, rate: float | None = None) -> Infusion:
    return Infusion.model_validate(
        {
            "type": "infusion",
            "patient_id": "pt-1",
            "session_id": "s1",
            "ts": T0 + timedelta(minutes=minutes),
            "action": action,
            "rate_ml_per_h": rate,
        }
    )


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_with_no_start_event_the_pumps_first_rate_change_begins_the_infusion() -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    apply_infusion(session, pump("rate_change", 60, 120))
    apply_infusion(session, pump("rate_change", 30, 60))  # arriving late: the earliest counts
    assert phase_at(session, at(29), RULES) is Phase.PRE
    assert phase_at(session, at(30), RULES) is Phase.INFUSING
    timeout = timedelta(hours=RULES.timing.session_timeout_hours)
    assert effective_stop(session, RULES) == at(60) + timeout  # the last pump event's timeout
    assert phase_at(session, at(60) + timeout, RULES) is Phase.POST_EARLY


def test_a_pause_or_a_stop_with_no_start_event_counts_as_a_running_pump_a_status_does_not() -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    apply_infusion(session, pump("status", -30))
    assert session.pump_running_ts is None
    apply_infusion(session, pump("pause", 12))  # a lost start, then the pause of an early reaction
    assert phase_at(session, at(11), RULES) is Phase.PRE
    assert phase_at(session, at(14), RULES) is Phase.INFUSING
    other = SessionState(session_id="s2", first_ts=T0)
    apply_infusion(other, pump("stop", 40))
    assert phase_at(other, at(41), RULES) is Phase.POST_EARLY
    apply_infusion(session, pump("start", 0, 60))  # a start event that comes decides
    assert phase_at(session, at(1), RULES) is Phase.INFUSING


def test_a_start_event_decides_the_phases_once_it_is_known() -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    apply_infusion(session, pump("rate_change", 30, 120))
    apply_infusion(session, pump("start", 0, 60))
    assert phase_at(session, at(10), RULES) is Phase.INFUSING


def test_a_session_running_without_a_start_event_is_kept_through_its_post_infusion_window() -> None:
    session = SessionState(session_id="s1", first_ts=T0 - timedelta(minutes=20))
    apply_infusion(session, pump("rate_change", 30, 120))
    state = PatientState(patient_id="pt-1", clock=T0, sessions={"s1": session})
    restored = PatientState.model_validate_json(state.model_dump_json())
    later = at(30) + timedelta(days=RULES.timing.post_late_days)  # past first_ts + 10 days
    for s in (state, restored):
        advance(s, later, RULES)
        assert "s1" in s.sessions  # its post-late window runs from the implied stop


def test_a_start_moving_earlier_after_the_baseline_froze_makes_its_origin_after_the_start() -> None:
    session = SessionState(session_id="s1", first_ts=T0, start_ts=at(10), baseline={"spo2": 93.0})
    session.baseline_final = True  # after construction: not a stored state of unknown origin
    assert session.baseline_unfit == []
    apply_infusion(session, pump("start", 15, 60))  # a resend later than the start: nothing moves
    assert session.baseline_unfit == []
    apply_infusion(session, pump("start", -10, 60))
    assert session.baseline_unfit == ["spo2"]


def test_a_state_stored_before_the_baseline_origin_existed_counts_a_frozen_one_as_after_the_start() -> None:
    session = SessionState(
        session_id="s1", first_ts=T0, start_ts=T0, baseline={"spo2": 93.0, "heart_rate": 70.0}
    )
    session.baseline_final = True
    stored = session.model_dump(mode="json")
    del stored["baseline_unfit"]
    assert SessionState.model_validate(stored).baseline_unfit == ["heart_rate", "spo2"]
    assert SessionState.model_validate(session.model_dump(mode="json")).baseline_unfit == []
