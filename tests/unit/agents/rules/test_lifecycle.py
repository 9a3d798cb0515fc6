"""The alert lifecycle's page flag and pending findings (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.rules.lifecycle import Finding, apply_action, apply_finding
from agents.rules.loader import load_rules
from models.alerts import AlertStatus, Condition, Evidence, Severity
from models.events import NurseAction
from models.state import SessionState

T0 = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
RULES = load_rules()


def finding(severity: Severity, minutes: float = 0.0, *, pending: bool = False) -> Finding:
    return Finding(
        condition=Condition.HYPOXEMIA,
        severity=severity,
        rule_id="hypoxemia.row",
        title="Low SpO2",
        action="Check the probe, then call the patient.",
        evidence=Evidence(summary="SpO2 91 %", phase="infusing"),
        ts=T0 + timedelta(minutes=minutes),
        from_vitals=True,
        pending=pending,
    )


def test_a_confirmed_warning_or_worse_pages_information_does_not() -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    warning = apply_finding(session, finding(Severity.WARNING), "pt-1", RULES)
    assert warning is not None and warning.page
    raised = apply_finding(session, finding(Severity.URGENT, 1), "pt-1", RULES)
    assert raised is not None and raised.page and raised.status is AlertStatus.FIRING
    other = SessionState(session_id="s2", first_ts=T0)
    info = apply_finding(other, finding(Severity.INFO), "pt-1", RULES)
    assert info is not None and not info.page


def test_an_acknowledgement_is_no_page() -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    fired = apply_finding(session, finding(Severity.URGENT), "pt-1", RULES)
    assert fired is not None
    ack = NurseAction(type="ack", alert_id=fired.alert_id, patient_id="pt-1", by="rn-1", ts=T0)
    message = apply_action(session, "hypoxemia", ack, "pt-1")
    assert message is not None and message.status is AlertStatus.ACKNOWLEDGED and not message.page


def test_a_pending_finding_shows_without_paging_until_confirmed() -> None:
    session = SessionState(session_id="s1", first_ts=T0)
    pending = apply_finding(session, finding(Severity.URGENT, pending=True), "pt-1", RULES)
    assert pending is not None and not pending.page and pending.status is AlertStatus.FIRING
    assert session.alerts["hypoxemia"].next_escalation_due is None
    assert apply_finding(session, finding(Severity.URGENT, 1, pending=True), "pt-1", RULES) is None
    confirmed = apply_finding(session, finding(Severity.WARNING, 2), "pt-1", RULES)
    assert confirmed is not None and confirmed.page
    assert confirmed.severity is Severity.URGENT  # the confirmation keeps the higher severity
    assert confirmed.alert_id == pending.alert_id
    assert not session.alerts["hypoxemia"].pending  # (its incident now escalates it: test_incidents)
