"""Vitals on the care schedule (clinical reference Part B 4.1; issue 14 part 4): the sets it asks
for and when, what counts as a set, the reminder and the page of `stale_data`, the end of the
schedule, and the rule file's rows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.rules import vitals_schedule
from agents.rules.engine import advance, new_state, process
from agents.rules.loader import DEFAULT_RULES_FILE, RuleFileError, load_rules, parse_rules
from agents.rules.registry import rule_lines
from agents.rules.timers import next_due
from models.alerts import Alert, AlertStatus, Severity
from models.events import Profile, RiskFactor
from models.parsing import parse_replay_line
from models.state import PatientState, RateStep, SessionState
from streams.apps.replay import LineError, replay
from tests.builders import START, Timeline, of, run

RULES = load_rules()
MICRO = timedelta(microseconds=1)
TEXT = DEFAULT_RULES_FILE.read_text(encoding="utf-8")


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def patient(*risk: str) -> PatientState:
    profile = Profile(
        type="profile", patient_id="pt-1", ts=at(-60), risk_factors=[RiskFactor(r) for r in risk]
    )
    return PatientState(patient_id="pt-1", profile=profile)


def infusion(steps: tuple[float, ...] = (30, 60), stop: float | None = 240) -> SessionState:
    """Started at 0 at 50 mL/h, raised at each of `steps` by 50 mL/h, stopped at `stop`."""
    rate_steps = [
        RateStep(ts=at(m), rate_ml_per_h=50.0 * (i + 2), previous_rate_ml_per_h=50.0 * (i + 1))
        for i, m in enumerate(steps)
    ]
    last = at(stop) if stop is not None else at(max(steps, default=0))
    return SessionState(
        session_id="s1",
        first_ts=at(-10),
        start_ts=at(0),
        stop_ts=at(stop) if stop is not None else None,
        last_infusion_ts=last,
        rate_steps=rate_steps,
    )


def schedule(state: PatientState, session: SessionState) -> list[tuple[str, float, float]]:
    """(row, due minute, late minute) of every set."""
    return [
        (s.row.id.removeprefix("care_schedule."), minutes(s.due), minutes(s.late))
        for s in vitals_schedule.due_sets(state, session, RULES)
    ]


def minutes(ts: datetime) -> float:
    return (ts - START).total_seconds() / 60


def stale(alerts: list[Alert]) -> list[tuple[float, str, str, bool]]:
    """(minute, status, severity, page) of every stale_data message."""
    return [(minutes(a.ts), a.status.value, a.severity.value, a.page) for a in of(alerts, "stale_data")]


# ----------------------------------------------------------------------------------------------
# Which sets are due when
# ----------------------------------------------------------------------------------------------


def test_the_sets_the_reference_asks_for_with_rate_steps() -> None:
    """Before the start, 15 min after it, at each rate increase, hourly at the steady rate after
    the last increase, and at the end; a standard patient has no set after the end."""
    assert schedule(patient(), infusion(steps=(30, 60), stop=240)) == [
        ("before_start", 0, 15),
        ("after_start", 15, 30),
        ("rate_step", 30, 45),
        ("rate_step", 60, 75),
        ("steady", 120, 135),
        ("steady", 180, 195),
        ("end", 240, 255),  # a steady set would fall at 240: the end set is that one
    ]


def test_hourly_sets_run_from_the_start_and_from_each_rate_increase() -> None:
    rows = schedule(patient(), infusion(steps=(90,), stop=200))
    assert [(r, due) for r, due, _ in rows] == [
        ("before_start", 0),
        ("after_start", 15),
        ("steady", 60),
        ("rate_step", 90),
        ("steady", 150),
        ("end", 200),
    ]


def test_no_infusing_set_at_or_after_the_stop() -> None:
    rows = schedule(patient(), infusion(steps=(30,), stop=25))
    assert [r for r, *_ in rows] == ["before_start", "after_start", "end"]
    assert [r for r, *_ in schedule(patient(), infusion(steps=(), stop=10))] == ["before_start", "end"]


def test_a_session_not_started_has_no_set() -> None:
    session = SessionState(session_id="s1", first_ts=at(-10))
    assert vitals_schedule.due_sets(patient(), session, RULES) == ()


@pytest.mark.parametrize("risk", ["first_infusion", "brand_switch", "long_gap"])
def test_the_set_after_the_end_is_for_first_switched_or_long_gap_infusions(risk: str) -> None:
    rows = schedule(patient(risk), infusion(steps=(), stop=100))
    # 30-60 min after the end: the reference's window itself, not halved for high risk
    assert rows[-1] == ("after_end", 130, 160)


@pytest.mark.parametrize("risk", [(), ("renal_disease",), ("prior_reaction", "diabetes")])
def test_no_set_after_the_end_for_other_patients(risk: tuple[str, ...]) -> None:
    assert "after_end" not in [r for r, *_ in schedule(patient(*risk), infusion(steps=(), stop=100))]


def test_high_risk_tightens_the_grace_of_each_set() -> None:
    standard = schedule(patient(), infusion())
    high = schedule(patient("renal_disease"), infusion())
    assert [r[:2] for r in high] == [r[:2] for r in standard]  # the same sets, due at the same times
    assert {late - due for _, due, late in standard} == {15}
    assert {late - due for _, due, late in high} == {15 * RULES.risk.stale_limit_factor}


def test_a_reading_counts_for_every_set_due_from_its_early_window_on() -> None:
    sets = {s.row.id: s for s in vitals_schedule.due_sets(patient(), infusion(steps=(30,)), RULES)}
    after_start, step = sets["care_schedule.after_start"], sets["care_schedule.rate_step"]
    assert not after_start.taken(None)
    assert not after_start.taken(at(9.9)) and after_start.taken(at(10))  # from 5 min before its due time
    assert after_start.taken(at(40))  # a late set counts too
    assert not step.taken(at(24)) and step.taken(at(25))


# ----------------------------------------------------------------------------------------------
# Reminder, page, resolution, end
# ----------------------------------------------------------------------------------------------


def test_a_missing_set_reminds_first_then_pages_after_its_grace() -> None:
    t = Timeline().baseline(-10).start_infusion()  # the set before the start is taken
    assert stale(run(t, until_minutes=29)) == [(15, "firing", "info", False)]  # pending: shown, no page
    alerts = of(run(t, until_minutes=31), "stale_data")
    assert stale(alerts) == [(15, "firing", "info", False), (30, "firing", "warning", True)]
    assert {a.alert_id for a in alerts} == {"s1:stale_data:1"}  # the same alert, confirmed
    assert alerts[0].title == RULES.stale_data.reminder_title and alerts[1].title == RULES.stale_data.title
    assert alerts[1].rule.id == "care_schedule.after_start"
    assert "after-start set due 10:15" in alerts[1].evidence.summary


def test_a_high_risk_patient_is_paged_after_half_the_grace() -> None:
    t = Timeline().profile(risk_factors=["long_gap"], epinephrine_available=True)
    t.baseline(-10).start_infusion()
    assert stale(run(t, until_minutes=23)) == [
        (15, "firing", "info", False),
        (22.5, "firing", "warning", True),
    ]


def test_the_second_missed_set_in_a_row_is_urgent() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(15, spo2=98).infusion(240, "status")
    assert stale(run(t, until_minutes=136)) == [
        (60, "firing", "info", False),  # hourly at the steady rate
        (75, "firing", "warning", True),
        (135, "firing", "urgent", True),  # the set due at 120 is missed too
    ]


def test_vitals_resolve_the_reminder_and_no_page_follows() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(20, heart_rate=72)
    assert stale(run(t, until_minutes=59)) == [(15, "firing", "info", False), (20, "resolved", "info", False)]


def test_vitals_resolve_the_page() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(40, spo2=98)
    assert stale(run(t, until_minutes=59)) == [
        (15, "firing", "info", False),
        (30, "firing", "warning", True),
        (40, "resolved", "warning", False),
    ]


def uploaded(minute: float, received: float) -> list[str]:
    """A reading taken at `minute` (before the set due at 15) that arrives at `received`."""

    def line(minute: float, received: float, **fields: object) -> str:
        stamp = lambda m: at(m).isoformat().replace("+00:00", "Z")  # noqa: E731
        item = {"patient_id": "pt-1", "session_id": "s1", "ts": stamp(minute), "received_ts": stamp(received)}
        return json.dumps(item | fields)

    return [
        # a full baseline set, so no baseline reminder shares the overdue set's moment (its page
        # would be the incident's one page of that moment)
        line(
            -10,
            -10,
            type="vitals",
            heart_rate=72,
            spo2=98,
            systolic_bp=120,
            diastolic_bp=75,
            temperature_c=36.8,
        ),
        line(0, 0, type="infusion", action="start", rate_ml_per_h=50),
        line(minute, received, type="vitals", heart_rate=72, spo2=98),
    ]


def test_vitals_taken_before_the_due_time_that_arrive_after_the_reminder_close_it() -> None:
    alerts = [a for a in replay(uploaded(14, 17), RULES) if not isinstance(a, LineError)]
    assert stale(alerts) == [(15, "firing", "info", False), (15, "resolved", "info", False)]
    assert "count for every set due so far" in of(alerts, "stale_data")[-1].evidence.summary


def test_vitals_taken_in_time_that_arrive_after_the_page_close_it_as_of_the_page() -> None:
    alerts = [a for a in replay(uploaded(14, 31), RULES) if not isinstance(a, LineError)]
    assert stale(alerts) == [
        (15, "firing", "info", False),
        (30, "firing", "warning", True),
        (30, "resolved", "warning", False),  # never timed before the page it resolves
    ]


def test_a_set_due_within_the_grace_of_a_missed_one_takes_it_over() -> None:
    """No set before the start (due at 0, grace 15), and the set due 15 min after it falls due
    within that grace: one reminder at 0, one page at the later set's grace, 30 min."""
    t = Timeline().start_infusion()
    alerts = of(run(t, until_minutes=31), "stale_data")
    assert stale(alerts) == [(0, "firing", "info", False), (30, "firing", "warning", True)]
    assert "before-start set due 10:00, after-start set due 10:15" in alerts[-1].evidence.summary


def test_nothing_is_overdue_past_the_last_set_and_an_open_alert_closes_when_the_schedule_ends() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(15, spo2=98).vitals(60, spo2=98)
    t.infusion(100, "stop")  # the end set (from 90 min) is never taken
    alerts = run(t, until_minutes=60 * 24)
    assert stale(alerts) == [
        (100, "firing", "info", False),
        (115, "firing", "warning", True),
        (130, "resolved", "warning", False),  # 15 min ([care_schedule] closes_after_minutes) later
    ]
    assert "The care schedule ended" in of(alerts, "stale_data")[-1].evidence.summary


def test_an_alert_open_for_hours_closes_when_the_schedule_ends_and_stops_escalating() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(15, spo2=98).infusion(200, "stop")
    alerts = run(t, until_minutes=600)
    assert stale(alerts)[-1] == (230, "resolved", "urgent", False)  # end set 200, late 215, + 15
    assert all(minutes(a.ts) <= 230 for a in alerts)  # no message (no escalation) after it


def test_next_due_is_the_schedules_next_step_and_advance_before_it_changes_nothing() -> None:
    state = new_state("pt-1")
    for line in Timeline().baseline(-10).start_infusion().vitals(15, spo2=98).lines():
        item = parse_replay_line(line)
        process(state, item, item.ts, RULES)
    assert next_due(state, RULES) == at(60) + MICRO  # the hourly set, strictly past its minute
    before = state.model_copy(deep=True)
    assert advance(state, at(60), RULES) == []
    state.clock = before.clock
    assert state == before
    assert [
        m.severity for m in advance(state, at(60) + MICRO, RULES) if m.condition.value == "stale_data"
    ] == [Severity.INFO]
    assert next_due(state, RULES) == at(75) + MICRO


def test_a_nurse_resolving_the_overdue_alert_is_not_paged_again_for_the_same_set() -> None:
    t = Timeline().baseline(-10).start_infusion().nurse(31, "resolve", "s1:stale_data:1", by="rn-2")
    alerts = of(run(t, until_minutes=59), "stale_data")
    assert [(minutes(a.ts), a.status.value) for a in alerts] == [
        (15, "firing"),
        (30, "firing"),
        (31, "resolved"),
    ]
    assert alerts[-1].status is AlertStatus.RESOLVED and alerts[-1].by == "rn-2"


# ----------------------------------------------------------------------------------------------
# The rule file
# ----------------------------------------------------------------------------------------------


def broken(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, old
    with pytest.raises(RuleFileError) as raised:
        parse_rules(TEXT.replace(old, new))
    return str(raised.value)


def test_every_set_names_its_source() -> None:
    assert len(RULES.care_schedule.sets) == 6
    assert all(len(row.source) > 3 for row in RULES.care_schedule.sets)
    assert RULES.care_schedule.source and RULES.stale_data.source


def test_a_steady_set_needs_its_interval_and_a_shorter_grace() -> None:
    message = broken("every_minutes = 60 ", "# every_minutes = 60 ")
    assert (
        "care_schedule.sets[3] (id=care_schedule.steady)" in message
        and "every_minutes is required" in message
    )
    message = broken("every_minutes = 60 ", "every_minutes = 15 ")
    assert (
        "care_schedule.sets[3] (id=care_schedule.steady)" in message
        and "grace_minutes must be shorter" in message
    )


def test_a_bad_set_row_is_named() -> None:
    message = broken('anchor = "rate_step"', 'anchor = "each_hour"')
    assert "care_schedule.sets[2] (id=care_schedule.rate_step).anchor" in message
    message = broken('only_for = ["first_infusion", "brand_switch", "long_gap"]', 'only_for = ["first_dose"]')
    assert "care_schedule.sets[5] (id=care_schedule.after_end).only_for" in message


def test_a_reminder_never_pages() -> None:
    message = broken(
        'reminder_severity = "info"\ntitle = "Vitals overdue',
        'reminder_severity = "warning"\ntitle = "Vitals overdue',
    )
    assert "stale_data" in message and "reminder_severity must be below" in message


def test_rules_show_lists_each_set_with_its_grace() -> None:
    lines = [line for line in rule_lines(RULES) if line.condition == "stale_data"]
    assert [line.id for line in lines] == [row.id for row in RULES.care_schedule.sets]
    by_id = {line.id: line for line in lines}
    assert "at each rate increase" in by_id["care_schedule.rate_step"].trigger
    assert "(7.5 for high risk)" in by_id["care_schedule.rate_step"].trigger
    assert "only for brand_switch, first_infusion, long_gap" in by_id["care_schedule.after_end"].trigger
    assert by_id["care_schedule.after_end"].severity == "info reminder, then warning / urgent"


_minutes = st.integers(min_value=-90, max_value=16 * 60)


@settings(max_examples=400, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=1, max_value=11 * 60), max_size=3),
    hours=st.integers(min_value=1, max_value=12),
    high=st.booleans(),
    factors=st.sets(st.sampled_from([RiskFactor.FIRST_INFUSION, RiskFactor.RENAL_DISEASE])),
    last=st.one_of(
        st.none(),
        _minutes.map(at),
        st.tuples(_minutes, st.integers(0, 59)).map(lambda m: at(m[0]) + timedelta(seconds=m[1])),
    ),
)
def test_the_first_set_not_taken_is_found_as_the_built_sets_give_it(
    steps: list[int], hours: int, high: bool, factors: set[RiskFactor], last: datetime | None
) -> None:
    """The shortcut after every reading (no set built) against the sets: rate steps in any order,
    steady stretches, the infusing sets at or after the stop left out, risk-only rows."""
    stop = at(hours * 60)
    rate_steps = tuple(at(m) for m in steps)
    sets = vitals_schedule._build(at(0), stop, rate_steps, high, frozenset(factors), RULES)
    first = next(vitals_schedule.steps(sets, last, RULES), None)
    expected = first.at if first is not None and first.kind is vitals_schedule.StepKind.REMINDER else None
    got = vitals_schedule.first_untaken_due(at(0), stop, rate_steps, high, frozenset(factors), last, RULES)
    assert got == expected
