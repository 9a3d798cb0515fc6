"""next_due (when advance could next change a patient) and dropping sessions past post-late."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from agents.rules.engine import advance, new_state, process
from agents.rules.loader import load_rules
from agents.rules.timers import next_due
from models.parsing import parse_replay_line
from models.state import PatientState
from tests.builders import START, Timeline, of, run

RULES = load_rules()
MICRO = timedelta(microseconds=1)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def feed(t: Timeline, state: PatientState | None = None) -> PatientState:
    """Process the timeline's events in order, the clock being each event's time."""
    state = state or new_state(t.patient)
    for line in sorted(t.lines(), key=lambda line: json.loads(line)["ts"]):
        item = parse_replay_line(line)
        process(state, item, item.ts, RULES)
    return state


def test_nothing_is_due_for_a_patient_without_sessions() -> None:
    state = new_state("pt-1")
    assert next_due(state, RULES) is None
    feed(Timeline().profile(risk_factors=["first_infusion"]), state)
    assert next_due(state, RULES) is None


def test_a_session_before_its_start_has_no_timer_but_its_drop() -> None:
    state = feed(Timeline().baseline(-10))
    dropped = at(-10) + timedelta(days=RULES.timing.post_late_days)  # a start that never came
    assert next_due(state, RULES) == dropped
    advance(state, dropped - MICRO, RULES)
    assert set(state.sessions) == {"s1"}
    advance(state, dropped, RULES)
    assert state.sessions == {}


def test_baseline_check_then_care_schedule_steps_just_past_their_minute() -> None:
    # The fixed 15/30-minute stale steps are now the care schedule's: the set due 15 minutes after
    # the start reminds (pending, no page) just past 15 minutes and pages just past its 15-minute grace.
    state = feed(Timeline().baseline(-10).start_infusion())
    assert next_due(state, RULES) == at(15)  # baseline check (and the 15-minute set, at 15 + 1 us)
    assert advance(state, at(15), RULES) == []
    assert next_due(state, RULES) == at(15) + MICRO  # strictly past: a reading on the minute is on time
    stale = [a for a in advance(state, at(15) + MICRO, RULES) if a.condition.value == "stale_data"]
    assert [(a.severity.value, a.page) for a in stale] == [("info", False)]
    assert next_due(state, RULES) == at(30) + MICRO
    stale = [a for a in advance(state, at(30) + MICRO, RULES) if a.condition.value == "stale_data"]
    assert [(a.severity.value, a.page) for a in stale] == [("warning", True)]


def test_high_risk_halves_the_grace_of_each_set() -> None:
    t = Timeline().profile(risk_factors=["brand_switch"]).baseline(-10).start_infusion()
    state = feed(t.vitals(16, spo2=98))  # the 15-minute set: next, the hourly one at a steady rate
    assert next_due(state, RULES) == at(60) + MICRO
    advance(state, at(60) + MICRO, RULES)
    assert next_due(state, RULES) == at(60 + 7.5) + MICRO


def test_no_set_is_due_after_the_stop_once_the_end_set_is_taken() -> None:
    state = feed(Timeline().baseline(-10).start_infusion().vitals(20, spo2=98).infusion(30, "stop"))
    due = next_due(state, RULES)  # the reading at 20 counts for the end set (from 10 min before the stop)
    first_checkin = min(RULES.checkin.due_hours())
    assert due == at(30) + timedelta(hours=first_checkin)  # only the check-ins and the drop remain


def test_escalation_and_resolution_are_due() -> None:
    # (the reading at 12 takes the care schedule's 15-minute set: only the alert's own timers are due)
    state = feed(
        Timeline().baseline(-10).start_infusion().vitals(5, heart_rate=140, spo2=98).vitals(12, spo2=98)
    )
    advance(state, at(16), RULES)  # past the baseline check
    # the lone 140/min of 5 min paged unconfirmed at 8; its incident escalates 15 minutes after that
    assert next_due(state, RULES) == at(23)
    feed(Timeline().vitals(8, heart_rate=72, spo2=98), state)  # cleared: resolves 15 minutes later
    assert next_due(state, RULES) == at(23)
    feed(Timeline().nurse(9, "ack", "s1:tachycardia:1"), state)
    assert next_due(state, RULES) == at(8 + 15)


def test_advance_before_next_due_changes_nothing_but_the_clock() -> None:
    t = Timeline().profile(risk_factors=["first_infusion"]).baseline(-10).start_infusion()
    t.vitals(5, heart_rate=135, spo2=93).symptom(6, "wheezing").vitals(9, heart_rate=80, spo2=97)
    state = feed(t)
    while (due := next_due(state, RULES)) is not None and due < at(30 * 24 * 60):
        before = state.model_copy(deep=True)
        assert advance(state, due - MICRO, RULES) == []
        state.clock = before.clock
        assert state == before
        advance(state, due, RULES)


def test_a_session_past_post_late_without_open_alerts_is_dropped() -> None:
    t = Timeline().baseline(-10).start_infusion()
    for minute in range(5, 60, 5):
        t.vitals(minute, spo2=98)
    state = feed(t.infusion(60, "stop"))
    end = at(60) + timedelta(days=RULES.timing.post_late_days)
    advance(state, end - MICRO, RULES)
    assert "s1" in state.sessions
    advance(state, end, RULES)
    assert state.sessions == {} and state.closed_sessions == ["s1"]
    assert next_due(state, RULES) is None


def test_a_session_with_an_open_alert_is_kept_until_a_nurse_resolves_it() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(5, systolic_bp=85, diastolic_bp=50, spo2=98)
    for minute in range(10, 60, 5):
        t.vitals(minute, spo2=98)
    state = feed(t.infusion(60, "stop"))
    late = at(60) + timedelta(days=RULES.timing.post_late_days + 1)
    advance(state, late, RULES)
    assert set(state.sessions) == {"s1"}  # the critical hypotension (and anaphylaxis) stay open
    open_alerts = sorted(state.sessions["s1"].alerts)
    assert open_alerts == ["anaphylaxis", "early_warning_score", "hypotension"]
    resolves = Timeline(start=late)
    for condition in open_alerts:
        resolves.nurse(0, "resolve", f"s1:{condition}:1")
    feed(resolves, state)
    assert next_due(state, RULES) is not None and next_due(state, RULES) <= late
    advance(state, late + MICRO, RULES)
    assert state.sessions == {}


def test_a_late_event_of_a_dropped_session_is_ignored() -> None:
    t = Timeline().baseline(-10).start_infusion()
    for minute in range(5, 60, 5):
        t.vitals(minute, spo2=98)
    state = feed(t.infusion(60, "stop"))
    advance(state, at(60) + timedelta(days=11), RULES)
    late = Timeline().vitals(60 + 11 * 24 * 60 + 1, temperature_c=39.5)
    assert feed(late, state).sessions == {}
    new_session = Timeline(session="s2").profile(risk_factors=["long_gap"]).baseline(11 * 24 * 60)
    assert set(feed(new_session, state).sessions) == {"s2"}


def test_a_repeated_stop_keeps_the_first_and_raises_no_stale_data_for_the_gap() -> None:
    t = Timeline().profile(risk_factors=["renal_disease"]).baseline(-1).start_infusion()
    t.infusion(1, "stop").vitals(2, heart_rate=72).infusion(10, "stop")
    assert of(run(t, until_minutes=60), "stale_data") == []


def test_the_pump_running_again_after_a_stop_reopens_the_infusion() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(10, spo2=98).vitals(20, spo2=98)
    t.infusion(30, "stop").vitals(31, heart_rate=72).infusion(35, "resume").infusion(40, "rate_change", 80)
    stale = of(run(t, until_minutes=60), "stale_data")
    # The infusing sets of the care schedule are asked for again: the rate increase at 40 is a set
    # (the reading at 31 came before it), due at 40 and paged after its 15-minute grace.
    assert [(a.status.value, a.severity.value, a.ts) for a in stale][:2] == [
        ("firing", "info", at(40)),
        ("firing", "warning", at(55)),
    ]
