"""Incidents through replay: one incident per patient episode, inhibition, one escalation timer,
acknowledgement of the whole incident, and a new uncovered problem that still pages."""

from __future__ import annotations

from itertools import pairwise

from agents.rules.incidents import is_incident_id
from agents.rules.loader import load_rules
from models.alerts import Alert
from tests.builders import Timeline, of, run

RULES = load_rules()


def session() -> Timeline:
    return Timeline().profile(epinephrine_available=True).baseline(-10).start_infusion()


def anaphylaxis(t: Timeline, minute: float = 20) -> Timeline:
    """Hives, then within minutes a low SpO2 and a falling pressure: anaphylaxis with its signs."""
    t.symptom(minute, "hives")
    t.vitals(minute + 2, spo2=93, heart_rate=105)
    t.vitals(minute + 5, spo2=91, heart_rate=118, systolic_bp=86, diastolic_bp=50)
    return t


def pages(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    return [(a.condition.value, a.status.value, a.severity.value) for a in alerts if a.page]


def findings(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.condition.value != "incident"]


def incident_of(alerts: list[Alert], condition: str) -> str:
    first = next(a for a in alerts if a.condition.value == condition)
    assert first.incident_id is not None
    return first.incident_id


def steady(t: Timeline, since: int, until: int, **values: object) -> Timeline:
    """Readings every 5 minutes, so no set of vitals is overdue."""
    for minute in range(since, until, 5):
        t.vitals(minute, **(values or {"spo2": 98, "heart_rate": 72}))
    return t


def test_an_anaphylaxis_episode_is_one_incident_and_its_covered_signs_do_not_page() -> None:
    alerts = run(anaphylaxis(steady(session(), 5, 20)), until_minutes=27)
    members = findings(alerts)
    assert {a.condition.value for a in members} >= {"infusion_reaction", "hypoxemia", "anaphylaxis"}
    assert {a.incident_id for a in members} == {"pt-1:incident:1"}
    assert "anaphylaxis" in [c for c, _, severity in pages(alerts) if severity == "critical"]
    after = next(a.ts for a in members if a.condition.value == "anaphylaxis")
    covered = [a for a in members if a.ts >= after and a.condition.value in ("hypotension", "hypoxemia")]
    assert covered and not any(a.page for a in covered), "a sign anaphylaxis covers paged on its own"
    incident = of(alerts, "incident")
    assert incident[-1].severity.value == "critical" and not any(a.page for a in incident)


def test_acknowledging_the_incident_acknowledges_every_member_and_stops_its_escalation() -> None:
    t = anaphylaxis(steady(session(), 5, 20))
    t.nurse(28, "ack", "pt-1:incident:1", by="rn-4", note="calling 911 with the patient")
    reminder = 28 + RULES.incidents.ack_timeout.critical_minutes if RULES.incidents.ack_timeout else 120
    for minute in range(30, int(reminder), 5):  # until its owner's reminder (test_ownership)
        t.vitals(minute, spo2=91, heart_rate=118, systolic_bp=86, diastolic_bp=50)
    alerts = run(t, until_minutes=reminder - 0.5)
    at_ack = [a for a in alerts if a.status.value == "acknowledged"]
    assert {a.condition.value for a in at_ack} >= {"anaphylaxis", "infusion_reaction", "incident"}
    assert all(not a.page and a.by == "rn-4" for a in at_ack)
    acked_at, episode = at_ack[0].ts, incident_of(alerts, "anaphylaxis")
    again = [a for a in alerts if a.ts > acked_at and a.page and a.incident_id == episode]
    assert again == [], "paged again after the acknowledgement"


def test_unacknowledged_the_incident_escalates_once_per_delay_not_once_per_member() -> None:
    alerts = run(anaphylaxis(steady(session(), 5, 20)), until_minutes=60)
    escalations = [a for a in alerts if a.status.value == "escalated"]
    assert escalations and all(a.condition.value == "incident" and a.page for a in escalations)
    assert [a.escalation_level for a in escalations] == [1, 2, 3]
    critical_delay = RULES.timing.escalate_critical_minutes
    gaps = {(b.ts - a.ts).total_seconds() / 60 for a, b in pairwise(escalations)}
    assert gaps == {critical_delay}


def test_acknowledging_one_alert_acknowledges_its_incident() -> None:
    t = anaphylaxis(steady(session(), 5, 20)).nurse(28, "ack", "s1:anaphylaxis:1", by="rn-2")
    alerts = run(t, until_minutes=42)  # before its owner's reminder (test_ownership)
    episode = incident_of(alerts, "anaphylaxis")
    incident = [a for a in of(alerts, "incident") if a.alert_id == episode]
    assert [a.status.value for a in incident if a.status.value == "acknowledged"] == ["acknowledged"]
    assert not [a for a in incident if a.status.value == "escalated"]


def test_a_new_uncovered_problem_pages_into_an_acknowledged_incident() -> None:
    t = steady(session(), 5, 20).vitals(20, temperature_c=38.6, heart_rate=100)  # fever
    t.nurse(22, "ack", "s1:fever:1", by="rn-1")
    steady(t, 25, 40, temperature_c=38.6, heart_rate=100, spo2=98)
    t.symptom(40, "shortness_of_breath", "severe")  # within the gap: same incident, not covered
    alerts = run(t, until_minutes=45)
    late = [a for a in findings(alerts) if a.ts.strftime("%H:%M") == "10:40"]
    assert late and all(a.incident_id == incident_of(alerts, "fever") for a in late)
    assert any(a.page for a in late), "an acknowledged incident hid a new problem"
    reopened = [a for a in of(alerts, "incident") if a.ts.strftime("%H:%M") == "10:40"]
    assert reopened and reopened[-1].status.value == "firing"


def test_a_finding_after_the_gap_opens_a_new_incident_and_pages() -> None:
    gap = RULES.incidents.gap_minutes
    t = steady(session(), 5, 20).vitals(20, temperature_c=38.6, heart_rate=100)
    t.nurse(22, "ack", "s1:fever:1", by="rn-1")
    steady(t, 25, int(20 + gap + 30), temperature_c=38.6, heart_rate=100, spo2=98)
    t.symptom(20 + gap + 30, "shortness_of_breath", "severe")
    alerts = run(t, until_minutes=20 + gap + 31)
    last = max(a.ts for a in findings(alerts))
    breath = [a for a in findings(alerts) if a.ts == last]
    assert breath and {a.incident_id for a in breath} - {incident_of(alerts, "fever")} == {
        a.incident_id for a in breath
    }
    assert any(a.page for a in breath)


def test_resolving_the_incident_resolves_its_members_and_a_later_finding_opens_a_new_one() -> None:
    t = steady(session(), 5, 20).vitals(20, temperature_c=38.6, heart_rate=100)
    t.nurse(25, "resolve", "pt-1:incident:1", by="rn-3", note="paracetamol, settled")
    t.vitals(30, temperature_c=38.7, heart_rate=100)  # a lone reading: it pages unconfirmed at 10:33
    alerts = run(t, until_minutes=34)
    assert incident_of(alerts, "fever") == "pt-1:incident:1"
    resolved = [a for a in alerts if a.status.value == "resolved"]
    assert {a.condition.value for a in resolved} >= {"fever", "incident"}
    again = [a for a in findings(alerts) if a.ts.strftime("%H:%M") >= "10:30" and a.status.value == "firing"]
    assert again and {a.incident_id for a in again} == {"pt-1:incident:2"} and any(a.page for a in again)


def test_an_overdue_set_is_an_incident_of_its_own() -> None:
    t = session()  # nothing read between the start and 60 min: the sets due then are overdue
    t.symptom(60, "hives").vitals(62, spo2=93, heart_rate=105)
    t.vitals(65, spo2=91, heart_rate=118, systolic_bp=86, diastolic_bp=50)
    alerts = run(t, until_minutes=67)
    overdue = next(a for a in alerts if a.condition.value == "stale_data" and a.severity.value != "info")
    assert overdue.incident_id is not None
    assert overdue.incident_id != incident_of(alerts, "anaphylaxis")
    assert any(a.page for a in alerts if a.condition.value == "infusion_reaction")


def test_information_forms_no_incident_and_incident_ids_are_recognised() -> None:
    t = Timeline().profile(risk_factors=["first_infusion"], epinephrine_available=True).baseline(-10)
    alerts = run(t.start_infusion(), until_minutes=1)
    info = [a for a in alerts if a.severity.value == "info"]
    assert info and all(a.incident_id is None and not a.page for a in info)
    assert is_incident_id("pt-1:incident:12") and not is_incident_id("s1:fever:1")
