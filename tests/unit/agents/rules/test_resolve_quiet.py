"""Quiet after a nurse's resolution ([incidents.quiet_after_resolve]) through replay: a finding a
nurse resolved as not needed does not open again at the same limit; a worse reading, the stop, the
end of the quiet time, another outcome or a composite still page; quiet readings still corroborate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from agents.rules import quiet_state
from agents.rules.loader import load_rules
from agents.rules.repair import repair_future
from models.alerts import Alert, Condition, Severity
from models.rule_incidents import QuietAfterResolveRule
from models.state import PatientState, QuietInForce, SessionState
from tests.builders import START, Timeline, of, run

RULES = load_rules()
QUIET = RULES.incidents.quiet_after_resolve
assert QUIET is not None
RESOLVED = 20.0
FIRST = "pt-1-s1:hypoxemia:1"  # alert ids are `{session}:{condition}:{n}`; Timeline's session is s1


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def resolved_spo2_92(outcome: str | None = "not_needed") -> Timeline:
    """An SpO2 of 92 % read twice (a confirmed hypoxemia warning), its incident resolved at minute 20
    with `outcome` (none: a resolution without one)."""
    t = Timeline().baseline(-10).start_infusion()
    t.vitals(5, spo2=98, heart_rate=72).vitals(10, spo2=92).vitals(11, spo2=92)
    extra = {"outcome": outcome, "action_taken": "called the patient: well"} if outcome else {}
    t.nurse(15, "ack", "pt-1:incident:1").nurse(RESOLVED, "resolve", "pt-1:incident:1", **extra)
    return t


def reopened(alerts: list[Alert]) -> list[Alert]:
    """Hypoxemia findings after the first one (a new alert of the condition)."""
    hypoxemia = of(alerts, "hypoxemia")
    first = hypoxemia[0].alert_id
    return [a for a in hypoxemia if a.alert_id != first]


def test_the_first_finding_is_confirmed_and_resolved_with_the_quiet_in_its_evidence() -> None:
    alerts = run(resolved_spo2_92(), until_minutes=RESOLVED + 1)
    hypoxemia = of(alerts, "hypoxemia")
    assert hypoxemia[0].severity is Severity.WARNING
    closed = hypoxemia[-1]
    assert (closed.status.value, closed.ts, closed.outcome and closed.outcome.value) == (
        "resolved",
        at(RESOLVED),
        "not_needed",
    )
    until = at(RESOLVED + QUIET.max_minutes)
    assert f"kept quiet at warning or below until the pump stops, at most until {until:%Y-%m-%d %H:%M}" in (
        closed.evidence.summary
    )


def test_the_same_reading_after_a_not_needed_resolution_does_not_open_it_again() -> None:
    t = resolved_spo2_92().vitals(30, spo2=92).vitals(31, spo2=92).vitals(60, spo2=93).vitals(61, spo2=93)
    alerts = run(t, until_minutes=90)
    assert reopened(alerts) == []
    assert [a for a in alerts if a.page and a.ts > at(RESOLVED)] == []


@pytest.mark.parametrize("outcome", ["needed_action", None])
def test_after_another_outcome_or_none_the_same_reading_opens_it_again(outcome: str | None) -> None:
    alerts = run(resolved_spo2_92(outcome).vitals(30, spo2=92).vitals(31, spo2=92), until_minutes=40)
    again = reopened(alerts)
    assert again and again[0].ts == at(30)


def test_an_artefact_outcome_keeps_it_quiet_too() -> None:
    alerts = run(resolved_spo2_92("artefact").vitals(30, spo2=92).vitals(31, spo2=92), until_minutes=40)
    assert reopened(alerts) == []


def test_a_worse_reading_pages_at_its_own_severity() -> None:
    alerts = run(resolved_spo2_92().vitals(30, spo2=90).vitals(31, spo2=90), until_minutes=40)
    again = reopened(alerts)
    assert again and again[0].severity is Severity.URGENT
    assert any(a.page and a.ts >= at(30) for a in alerts)


def test_an_extreme_value_pages_at_once() -> None:
    extreme = min(limit.below or 100 for limit in RULES.confirmation.extreme if limit.vital == "spo2")
    alerts = run(resolved_spo2_92().vitals(30, spo2=extreme - 1), until_minutes=31)
    assert [a.ts for a in alerts if a.page and a.ts >= at(30)][:1] == [at(30)]


def test_the_quiet_ends_after_the_rule_files_time() -> None:
    later = RESOLVED + QUIET.max_minutes
    t = resolved_spo2_92()
    for minute in range(25, int(later) + 10, 15):
        t.vitals(minute, spo2=98, heart_rate=72)  # no set is overdue
    t.vitals(later - 5, spo2=92).vitals(later - 4, spo2=92).vitals(later + 1, spo2=92).vitals(
        later + 2, spo2=92
    )
    again = reopened(run(t, until_minutes=later + 5))
    assert again and again[0].ts == at(later + 1)


def test_the_stop_of_the_pump_ends_the_quiet() -> None:
    t = resolved_spo2_92().vitals(30, spo2=92).infusion(40, "stop").vitals(45, spo2=92).vitals(46, spo2=92)
    again = reopened(run(t, until_minutes=50))
    assert again and again[0].ts == at(45)


def test_a_quiet_reading_still_corroborates_another_finding() -> None:
    """A low pressure in the same reading as the quiet SpO2 is not a lone reading: it pages at once."""
    t = resolved_spo2_92().vitals(30, spo2=92, systolic_bp=85, diastolic_bp=55)
    hypotension = of(run(t, until_minutes=31), "hypotension")
    assert hypotension and not hypotension[0].pending


def test_a_quiet_set_by_a_poisoned_clock_is_dropped_by_the_repair() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    session = SessionState(session_id="s1", first_ts=now)
    far = now + timedelta(days=30)
    session.quiet = {
        "hypoxemia": QuietInForce(ts=far, until=far + timedelta(hours=2), severity=Severity.WARNING),
        "hypotension": QuietInForce(ts=now, until=now + timedelta(hours=2), severity=Severity.WARNING),
    }
    state = PatientState(patient_id="pt-1", sessions={"s1": session}, clock=far)
    assert repair_future(state, now, timedelta(minutes=5))
    assert set(session.quiet) == {"hypotension"}


def test_the_rule_file_may_not_keep_a_finding_that_needed_action_quiet() -> None:
    with pytest.raises(ValidationError, match="needed_action"):
        QuietAfterResolveRule(
            outcomes=("not_needed", "needed_action"), max_minutes=60, reason="why not", source="test"
        )


def test_a_later_resolution_with_another_outcome_ends_the_quiet() -> None:
    """A worse reading opened it again; the nurse resolves that one as needing action: the earlier
    quiet no longer holds, and the borderline reading pages again."""
    t = resolved_spo2_92().vitals(30, spo2=90).vitals(31, spo2=90)
    t.nurse(35, "ack", "pt-1:incident:2").nurse(40, "resolve", "pt-1:incident:2", outcome="needed_action")
    t.vitals(50, spo2=92).vitals(51, spo2=92)
    again = [a for a in reopened(run(t, until_minutes=55)) if a.ts >= at(50)]
    assert again and again[0].ts == at(50)


def test_a_member_that_joined_after_the_acknowledgement_is_not_kept_quiet() -> None:
    """A fast pulse joins the acknowledged incident at minute 18; the nurse resolves the incident as
    not needed at 20 having judged only the SpO2: the pulse pages again at its next reading."""
    t = resolved_spo2_92()
    t.vitals(17, heart_rate=135).vitals(18, heart_rate=135)
    t.vitals(30, heart_rate=135).vitals(31, heart_rate=135)
    tachycardia = of(run(t, until_minutes=35), "tachycardia")
    assert {a.alert_id for a in tachycardia if a.ts >= at(30)}, "the pulse opened again"


def test_the_stop_ends_the_quiet_for_good_a_resume_does_not_bring_it_back() -> None:
    t = resolved_spo2_92().infusion(40, "stop").infusion(50, "resume")
    t.vitals(60, spo2=92).vitals(61, spo2=92)
    again = reopened(run(t, until_minutes=65))
    assert again and again[0].ts == at(60)


def test_a_quiet_condition_still_raises_an_infusion_reaction() -> None:
    """A fast pulse resolved as not needed still holds when chills are reported: the infusion
    reaction is raised as with an open vital-sign alert (urgent), not a lone warning."""
    t = Timeline().baseline(-10).start_infusion()
    t.vitals(5, heart_rate=72).vitals(10, heart_rate=118).vitals(11, heart_rate=118)
    t.nurse(15, "ack", "pt-1:incident:1").nurse(20, "resolve", "pt-1:incident:1", outcome="not_needed")
    t.vitals(30, heart_rate=118).symptom(32, "chills")
    quiet_run = of(run(t, until_minutes=33), "infusion_reaction")
    assert quiet_run and quiet_run[0].severity is Severity.URGENT


def test_a_finding_raised_by_a_symptom_is_not_kept_quiet() -> None:
    """Hypotension raised by a fainting report, resolved as not needed: a later fall of 24 mmHg
    still opens hypotension at its next readings."""
    t = Timeline().baseline(-10).start_infusion()
    t.vitals(5, systolic_bp=122, diastolic_bp=78).symptom(10, "fainting")
    t.nurse(14, "ack", "pt-1:incident:1").nurse(20, "resolve", "pt-1:incident:1", outcome="not_needed")
    t.vitals(30, systolic_bp=98, diastolic_bp=60).vitals(31, systolic_bp=98, diastolic_bp=60)
    hypotension = of(run(t, until_minutes=35), "hypotension")
    assert {a.alert_id for a in hypotension if a.ts >= at(30)} - {
        a.alert_id for a in hypotension if a.ts < at(30)
    }


def test_a_resolution_without_an_outcome_ends_the_quiet() -> None:
    t = resolved_spo2_92().vitals(30, spo2=90).vitals(31, spo2=90)
    t.nurse(35, "ack", "pt-1:incident:2").nurse(40, "resolve", "pt-1:incident:2")
    t.vitals(50, spo2=92).vitals(51, spo2=92)
    again = [a for a in reopened(run(t, until_minutes=55)) if a.ts >= at(50)]
    assert again and again[0].ts == at(50)


def test_a_quiet_from_before_the_start_ends_at_the_start() -> None:
    t = Timeline().baseline(-40, spo2=96)
    t.vitals(-30, spo2=90).vitals(-29, spo2=90)  # before the start: the red band alone, confirmed
    t.nurse(-25, "ack", "pt-1:incident:1")
    t.nurse(-20, "resolve", "pt-1:incident:1", outcome="not_needed", action_taken="called: well")
    t.vitals(-10, spo2=90)  # still before the start: kept quiet
    t.start_infusion().vitals(5, spo2=86).vitals(6, spo2=86)  # IVIG now flows: 86 pages again
    again = reopened(run(t, until_minutes=10))
    assert again and again[0].ts == at(5)
    session = SessionState(session_id="s1", first_ts=at(-40), start_ts=at(0))
    session.quiet = {"hypoxemia": QuietInForce(ts=at(-20), until=at(100), severity=Severity.URGENT)}
    assert quiet_state.in_force(session, Condition.HYPOXEMIA, at(-10)) is not None
    assert quiet_state.in_force(session, Condition.HYPOXEMIA, at(5)) is None
