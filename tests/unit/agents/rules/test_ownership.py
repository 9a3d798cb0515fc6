"""Ownership and the acknowledgement timeout through replay: the acknowledging nurse owns the
incident, a reminder pages the owner alone after the rule file's time, then the incident escalates
again; a resolution stops both; a handover moves the owner and the reminder goes to the new one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.rules.loader import load_rules
from agents.rules.ownership import reminder_delay
from models.alerts import Alert, Severity
from models.events import NurseAction
from streams.infra.sinks.pager.page_encoding import page_key
from tests.builders import START, Timeline, run
from tests.unit.agents.rules.test_incidents import anaphylaxis, session, steady

RULES = load_rules()
TIMEOUT = RULES.incidents.ack_timeout
assert TIMEOUT is not None
ACK = 28.0
REMIND = ACK + TIMEOUT.critical_minutes
ESCALATE = REMIND + TIMEOUT.escalate_after_minutes
INCIDENT = "pt-1:incident:1"


def acknowledged(by: str = "rn-4") -> Timeline:
    """A critical anaphylaxis incident, acknowledged at minute 28 by `by`; its signs go on."""
    t = anaphylaxis(steady(session(), 5, 20))
    t.nurse(ACK, "ack", INCIDENT, by=by)
    for minute in range(30, 90, 5):
        t.vitals(minute, spo2=91, heart_rate=118, systolic_bp=86, diastolic_bp=50)
    return t


def at(minutes: float) -> object:
    return START + timedelta(minutes=minutes)


def after_ack(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.ts > at(ACK) and a.page]


def test_the_acknowledging_nurse_owns_the_incident_and_its_members() -> None:
    alerts = run(acknowledged(), until_minutes=ACK + 1)
    acked = [a for a in alerts if a.status.value == "acknowledged"]
    assert acked and {a.owner for a in acked} == {"rn-4"}
    assert all(a.owner is None for a in alerts if a.ts < at(ACK))


def test_not_resolved_in_time_it_reminds_its_owner_alone_then_escalates_to_the_roster() -> None:
    remind, escalate, *later = after_ack(run(acknowledged(), until_minutes=ESCALATE + 1))
    assert (remind.condition.value, remind.status.value, remind.ts) == (
        "incident",
        "acknowledged",
        at(REMIND),
    )
    assert (remind.notify, remind.owner, remind.escalation_level) == ("rn-4", "rn-4", 0)
    assert escalate.ts == at(ESCALATE) and escalate.status.value == "escalated"
    assert (escalate.notify, escalate.escalation_level) == (None, 1)
    assert [a.escalation_level for a in later] == [2, 3], "escalated again, it escalates as usual"


def test_once_escalated_again_it_keeps_escalating_until_acknowledged_and_the_new_nurse_owns_it() -> None:
    t = acknowledged().nurse(ESCALATE + 2, "ack", INCIDENT, by="rn-7")
    alerts = run(t, until_minutes=ESCALATE + 30)
    after = [a for a in alerts if a.ts > at(ESCALATE) and a.condition.value == "incident"]
    assert after[0].status.value == "acknowledged" and after[0].owner == "rn-7"
    reminder = next(a for a in after if a.page)
    assert reminder.notify == "rn-7" and reminder.ts == at(ESCALATE + 2 + TIMEOUT.critical_minutes)


def test_acknowledged_at_the_top_level_its_reminder_is_the_last_page() -> None:
    """Left unacknowledged until the rule file's top escalation level, then acknowledged and not
    resolved: the owner's reminder pages, and nothing after it (escalating again at the top level
    would repeat that level's page, which the pager drops as already paged, or page all night)."""
    acked_at = 50.0
    t = anaphylaxis(steady(session(), 5, 20))
    for minute in range(30, 180, 5):
        t.vitals(minute, spo2=91, heart_rate=118, systolic_bp=86, diastolic_bp=50)
    t.nurse(acked_at, "ack", INCIDENT, by="rn-4")
    incident = [a for a in run(t, until_minutes=180) if a.incident_id == INCIDENT and a.page]
    top = RULES.timing.max_escalation_level
    levels = [a.escalation_level for a in incident if a.status.value == "escalated"]
    assert levels == list(range(1, top + 1))
    last = incident[-1]
    assert (last.notify, last.ts) == ("rn-4", at(acked_at + TIMEOUT.critical_minutes))
    keys = [page_key(a) for a in incident]
    assert len(keys) == len(set(keys)), "two pages with one key: the pager would drop the second"


def test_a_resolution_stops_the_reminder_and_the_escalation() -> None:
    t = acknowledged().nurse(
        REMIND - 1, "resolve", INCIDENT, outcome="needed_action", action_taken="epinephrine"
    )
    alerts = run(t, until_minutes=ESCALATE + 60)
    assert [a for a in after_ack(alerts) if a.incident_id == INCIDENT] == []
    closed = [a for a in alerts if a.status.value == "resolved" and a.incident_id == INCIDENT]
    assert closed and all(a.outcome and a.outcome.value == "needed_action" for a in closed)
    assert {a.action_taken for a in closed} == {"epinephrine"}


def test_a_handover_moves_the_owner_and_restarts_the_time_for_the_new_one() -> None:
    handed = ACK + 10
    t = acknowledged().nurse(handed, "handover", INCIDENT, by="rn-4", note="going off shift", to="rn-9")
    alerts = run(t, until_minutes=handed + TIMEOUT.critical_minutes + 1)
    handover = next(a for a in alerts if a.ts == at(handed))
    assert (handover.owner, handover.by, handover.note, handover.page) == (
        "rn-9",
        "rn-4",
        "going off shift",
        False,
    )
    remind = after_ack(alerts)[0]
    assert remind.notify == "rn-9" and remind.ts == at(handed + TIMEOUT.critical_minutes)


def test_a_handover_of_an_unacknowledged_incident_changes_nothing() -> None:
    t = anaphylaxis(steady(session(), 5, 20)).nurse(26, "handover", INCIDENT, to="rn-9")
    assert not [a for a in run(t, until_minutes=27) if a.owner]


def test_an_urgent_incident_waits_the_urgent_time_and_a_warning_none() -> None:
    t = session()
    t.vitals(20, temperature_c=39.0, heart_rate=125).vitals(22, temperature_c=39.1, heart_rate=126)
    t.nurse(25, "ack", INCIDENT)
    for minute in range(25, 90, 5):
        t.vitals(minute, temperature_c=39.0, heart_rate=125)
    alerts = run(t, until_minutes=90)
    acked = next(a for a in alerts if a.condition.value == "incident" and a.status.value == "acknowledged")
    assert acked.severity.value == "urgent"
    reminder = next(a for a in alerts if a.notify)
    assert reminder.ts == at(25 + TIMEOUT.urgent_minutes) and reminder.notify == "rn-1"
    assert reminder_delay(Severity.WARNING, RULES) is None and reminder_delay(Severity.INFO, RULES) is None


def test_handover_needs_the_nurse_taking_over_and_outcome_goes_with_resolve_only() -> None:
    base = {"alert_id": INCIDENT, "patient_id": "pt-1", "by": "rn-1", "ts": "2026-11-24T10:00:00Z"}
    with pytest.raises(ValueError, match="to"):
        NurseAction.model_validate({**base, "type": "handover"})
    for name in ("rn 9", "rn-9\nX-Evil: 1", ""):  # the new owner is paged: a login name only
        with pytest.raises(ValueError, match="to"):
            NurseAction.model_validate({**base, "type": "handover", "to": name})
    with pytest.raises(ValueError, match="resolve only"):
        NurseAction.model_validate({**base, "type": "ack", "outcome": "artefact"})
    assert NurseAction.model_validate({**base, "type": "resolve"}).outcome is None  # v1 still valid
