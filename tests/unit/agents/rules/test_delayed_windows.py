"""Delayed windows (issue 14, part 6): biphasic anaphylaxis up to 72 h after the stop, a new episode
after an acknowledged one; weight gain over 48 h across the sessions of a multi-day course."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.rules.engine import new_state, process
from agents.rules.episodes import last_met
from agents.rules.loader import load_rules
from agents.rules.registry import rule_lines
from agents.rules.repair import repair_future
from agents.rules.session import LONG_HISTORY, _add_long
from models.parsing import parse_replay_line
from models.state import PatientState, TimedValue
from tests.builders import START, Timeline, of, run, summary

RULES = load_rules()
HOUR = 60
DAY = 24 * HOUR
STOP = 25
FIRST = "s1:anaphylaxis:1"


def first_episode(ack: bool = True) -> Timeline:
    """Anaphylaxis while infusing at 21 min (hives, throat tightness), acknowledged at 23 min unless
    `ack` is false, pump stopped at STOP."""
    t = Timeline().profile(epinephrine_available=True).baseline(-10).start_infusion()
    t.vitals(5, spo2=98, heart_rate=74).vitals(15, spo2=98, heart_rate=74)
    t.symptom(20, "hives").symptom(21, "throat_tightness", "severe")
    if ack:
        t.nurse(23, "ack", FIRST)
    return t.infusion(STOP, "stop")


def second_episode(t: Timeline, at: float) -> list:
    return of(run(t.symptom(at, "hives").symptom(at + 2, "wheezing", "severe")), "anaphylaxis")


def test_a_second_episode_8_h_after_the_stop_pages_as_a_new_alert_while_the_first_is_acknowledged() -> None:
    alerts = second_episode(first_episode(), STOP + 8 * HOUR)
    assert [(a.alert_id, a.status.value, a.page) for a in alerts] == [
        (FIRST, "firing", True),
        (FIRST, "acknowledged", False),
        (FIRST, "resolved", False),
        ("s1:anaphylaxis:2", "firing", True),
    ]
    resolved, new = alerts[2], alerts[3]
    assert resolved.ts == new.ts == START + timedelta(minutes=STOP + 8 * HOUR + 2)
    assert resolved.by is None
    assert new.severity.value == "critical" and new.evidence.phase == "post-late"
    assert "a new episode, 8.0 h after they were last met" in new.evidence.summary
    assert "epinephrine" in new.action


def test_a_second_episode_48_h_after_the_stop_pages_too_and_an_unacknowledged_first_is_no_different() -> None:
    for t in (first_episode(), first_episode(ack=False)):
        new = [a for a in second_episode(t, STOP + 48 * HOUR) if a.alert_id == "s1:anaphylaxis:2"]
        assert [(a.status.value, a.severity.value, a.page) for a in new] == [("firing", "critical", True)]


def test_criteria_met_again_within_the_hour_are_the_same_episode() -> None:
    t = first_episode().symptom(70, "wheezing", "severe")  # 49 min after they were last met
    alerts = of(run(t), "anaphylaxis")
    assert [a.alert_id for a in alerts] == [FIRST, FIRST]
    assert summary(alerts) == [
        ("anaphylaxis", "firing", "critical"),
        ("anaphylaxis", "acknowledged", "critical"),
    ]


def test_after_a_nurse_resolves_the_first_episode_the_second_is_alert_2_with_one_resolution() -> None:
    t = first_episode().nurse(40, "resolve", FIRST, note="settled")
    alerts = second_episode(t, STOP + 8 * HOUR)
    assert [(a.alert_id, a.status.value, a.by) for a in alerts if a.status.value == "resolved"] == [
        (FIRST, "resolved", "rn-1")
    ]
    assert [a.alert_id for a in alerts if a.status.value == "firing"] == [FIRST, "s1:anaphylaxis:2"]


def test_past_72_h_after_the_stop_the_composite_is_off_and_the_first_alert_stays_open() -> None:
    t = first_episode()
    alerts = run(t.symptom(STOP + 72 * HOUR + 30, "hives").symptom(STOP + 72 * HOUR + 32, "wheezing"))
    assert [a.alert_id for a in of(alerts, "anaphylaxis")] == [FIRST, FIRST]
    assert summary(of(alerts, "respiratory_compromise")) == [("respiratory_compromise", "firing", "warning")]


def test_a_first_reaction_in_post_late_within_72_h_is_anaphylaxis() -> None:
    t = Timeline().baseline(-10).start_infusion().infusion(STOP, "stop")
    late = second_episode(t, STOP + 30 * HOUR)
    assert [(a.alert_id, a.status.value, a.page) for a in late] == [(FIRST, "firing", True)]


def test_rules_show_names_the_72_h_window_and_the_episode_gap() -> None:
    line = next(line for line in rule_lines(RULES) if line.id == RULES.anaphylaxis.id)
    assert line.when == "infusing, post-early, post-late (to 72 h after stop)"
    assert "met again > 1 h after last met: a new alert" in line.trigger
    assert "biphasic" in line.source


def test_an_alert_stored_before_rows_were_timed_counts_from_its_opening() -> None:
    state = new_state("pt-1")
    for line in Timeline().baseline(-10).start_infusion().symptom(1, "wheezing").lines():
        item = parse_replay_line(line)
        process(state, item, item.ts, RULES)
    session = state.sessions["s1"]
    alert = session.alerts["anaphylaxis"]
    del session.row_last_fired[RULES.anaphylaxis.id]
    assert last_met(session, RULES.anaphylaxis.id, alert) == alert.opened_ts


# --- weight gain over a multi-day course ------------------------------------------------------


def day(n: int, *weights: tuple[float, float], stop_after: float = 150) -> Timeline:
    """Day `n` of a course: session `d{n}`, its weights (minute of the day, kg), an infusion 0-150."""
    t = Timeline(session=f"d{n}", start=START + timedelta(days=n - 1))
    for minute, kg in weights:
        t.vitals(minute, weight_kg=kg)
    t.baseline(-10).start_infusion()
    for minute in range(10, int(stop_after), 10):
        t.vitals(minute, spo2=98, heart_rate=72)
    return t.infusion(stop_after, "stop")


def test_a_2_kg_gain_across_day_1_and_day_2_sessions_is_renal_injury_on_day_2() -> None:
    alerts = of(run(day(1, (-30, 70.0)), day(2, (-30, 72.0))), "renal_injury")
    # one weight, nothing else: it waits for a repeat, then pages as unconfirmed 3 minutes later
    assert [(a.alert_id, a.status.value, a.severity.value, a.pending, a.page) for a in alerts] == [
        ("d2:renal_injury:1", "firing", "warning", True, False),
        ("d2:renal_injury:1", "firing", "warning", False, True),
    ]
    assert alerts[0].evidence.baseline == {"weight_kg": 70.0}
    assert alerts[0].evidence.phase == "pre"  # day 2 before its start, in day 1's post-late


def test_a_gain_spread_over_more_than_48_h_across_three_sessions_stays_quiet() -> None:
    course = (day(1, (-30, 70.0)), day(2, (-30, 71.0)), day(3, (-29, 72.0)))
    assert of(run(*course), "renal_injury") == []


def test_before_any_infusion_of_the_course_a_gain_is_not_renal_injury() -> None:
    t = Timeline(session="d1").vitals(-DAY, weight_kg=70.0).vitals(-30, weight_kg=72.0)
    assert of(run(t), "renal_injury") == []


def test_the_patient_keeps_each_windowed_vital_only_as_long_as_its_window_and_bounded() -> None:
    state = PatientState(patient_id="pt-1")
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    for hour in (0, 10, 49, 50):
        _add_long(state, "weight_kg", TimedValue(ts=t0 + timedelta(hours=hour), value=70.0), 48)
    assert [h.ts.hour for h in state.long_history["weight_kg"]] == [10, 1, 2]
    for minute in range(LONG_HISTORY + 10):
        _add_long(state, "weight_kg", TimedValue(ts=t0 + timedelta(hours=51, minutes=minute), value=70.0), 48)
    assert len(state.long_history["weight_kg"]) == LONG_HISTORY


def test_a_state_stored_with_session_histories_keeps_its_weights_at_patient_level() -> None:
    stored = {
        "patient_id": "pt-1",
        "sessions": {
            "d1": {
                "session_id": "d1",
                "first_ts": "2026-03-02T08:30:00Z",
                "long_history": {"weight_kg": [{"ts": "2026-03-02T08:30:00Z", "value": 70.0}]},
            }
        },
    }
    state = PatientState.model_validate(stored)
    assert [h.value for h in state.long_history["weight_kg"]] == [70.0]
    assert PatientState.model_validate_json(state.model_dump_json()) == state


def test_repair_drops_weights_timed_past_the_bound() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    state = PatientState(
        patient_id="pt-1",
        clock=datetime(2099, 1, 1, tzinfo=UTC),
        long_history={
            "weight_kg": [
                TimedValue(ts=now - timedelta(hours=1), value=70.0),
                TimedValue(ts=datetime(2099, 1, 1, tzinfo=UTC), value=90.0),
            ]
        },
    )
    assert repair_future(state, now, timedelta(minutes=5))
    assert [h.value for h in state.long_history["weight_kg"]] == [70.0]
