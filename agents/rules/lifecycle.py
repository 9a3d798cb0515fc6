"""Alert lifecycle: one alert per (session, condition), messages only on change, timers in event time.

Which messages page, and escalation, belong to the patient's incident (`incidents`); here each
alert is opened, raised, confirmed, acknowledged and resolved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from models.events import NurseAction
from models.ruleset import RuleSet
from models.state import AlertState, PatientState, SessionState

OPEN = frozenset({AlertStatus.FIRING, AlertStatus.ESCALATED, AlertStatus.ACKNOWLEDGED})
"""The statuses of an alert still open (resolved ones leave the session's alerts)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition found true by a rule at event time `ts`."""

    condition: Condition
    severity: Severity
    rule_id: str
    title: str
    action: str
    evidence: Evidence
    ts: datetime
    from_vitals: bool
    """Raised by vital signs (so it may resolve by itself) rather than by symptom reports."""
    pending: bool = False
    """Shown to nurses but not paging yet: waiting for a repeat reading or the end of a grace. The
    same finding applied again without `pending` confirms it (then it pages)."""
    confirm_due: datetime | None = None
    """A pending finding's deadline: with no repeat by then, it pages as unconfirmed."""
    unconfirmed: bool = False
    """It pages because no repeat came in time (it rests on one reading nothing confirmed)."""


def alert_id(session_id: str, condition: Condition, n: int) -> str:
    return f"{session_id}:{condition.value}:{n}"


def parse_alert_id(value: str) -> tuple[str, str] | None:
    """(session_id, condition) of an alert id, or None when it is not one of ours."""
    parts = value.rsplit(":", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[0], parts[1]


PAGING_STATUSES = frozenset({AlertStatus.FIRING, AlertStatus.ESCALATED})


def pages(alert: AlertState) -> bool:
    """Whether the message of this alert's new state asks a nurse to act: a confirmed finding of
    warning or higher that fired, rose or escalated (acknowledgements and resolutions do not)."""
    return (
        not alert.pending and alert.status in PAGING_STATUSES and alert.severity.rank >= Severity.WARNING.rank
    )


def to_message(
    alert: AlertState,
    patient_id: str,
    session_id: str,
    ts: datetime,
    by: str | None = None,
    note: str | None = None,
) -> Alert:
    return Alert(
        page=pages(alert),
        pending=alert.pending,
        alert_id=alert.alert_id,
        patient_id=patient_id,
        session_id=session_id,
        status=alert.status,
        severity=alert.severity,
        condition=alert.condition,
        ts=ts,
        escalation_level=alert.escalation_level,
        title=alert.title,
        evidence=alert.evidence,
        action=alert.action,
        rule=alert.rule,
        by=by,
        note=note,
    )


def open_alert(state: PatientState, value: str) -> AlertState | None:
    """The patient's open alert with this id (None: closed, or not one of ours)."""
    parsed = parse_alert_id(value)
    session = state.sessions.get(parsed[0]) if parsed else None
    current = session.alerts.get(parsed[1]) if parsed and session else None
    if current is None or current.alert_id != value or current.status not in OPEN:
        return None
    return current


def apply_finding(session: SessionState, finding: Finding, patient_id: str, rules: RuleSet) -> Alert | None:
    """Open or raise the condition's alert; returns the message to send, or None (no change)."""
    key = finding.condition.value
    current = session.alerts.get(key)
    if current is not None:
        current.clear_since = None
        current.raised_by_vitals = current.raised_by_vitals or finding.from_vitals
        if not finding.pending:  # a repeat, a corroboration or a raise confirms; the deadline does not
            current.unconfirmed = finding.unconfirmed
        if not finding.from_vitals:
            current.auto_resolvable = False  # a symptom report now stands behind it
        confirmed = current.pending and not finding.pending
        if current.pending and finding.pending and finding.confirm_due is not None:
            # a pending finding raised while it waits: its deadline is the raised one's, if sooner
            current.confirm_due = min(current.confirm_due or finding.confirm_due, finding.confirm_due)
        if finding.severity.rank <= current.severity.rank and not confirmed:
            return None
        current.pending = current.pending and finding.pending
        if not current.pending:
            current.confirm_due = None
        if finding.severity.rank >= current.severity.rank:  # a raise, or a confirmation at the same severity
            current.severity = finding.severity
            current.title, current.action, current.evidence = finding.title, finding.action, finding.evidence
            current.rule = RuleRef(id=finding.rule_id, version=rules.version)
        current.status = AlertStatus.FIRING
        current.auto_resolvable = current.auto_resolvable and current.severity is not Severity.CRITICAL
        return to_message(current, patient_id, session.session_id, finding.ts)
    n = session.fired_counts.get(key, 0) + 1
    session.fired_counts[key] = n
    opened = AlertState(
        alert_id=alert_id(session.session_id, finding.condition, n),
        condition=finding.condition,
        severity=finding.severity,
        status=AlertStatus.FIRING,
        opened_ts=finding.ts,
        pending=finding.pending,
        confirm_due=finding.confirm_due if finding.pending else None,
        unconfirmed=finding.unconfirmed,
        auto_resolvable=finding.from_vitals and finding.severity is not Severity.CRITICAL,
        raised_by_vitals=finding.from_vitals,
        rule=RuleRef(id=finding.rule_id, version=rules.version),
        title=finding.title,
        evidence=finding.evidence,
        action=finding.action,
    )
    session.alerts[key] = opened
    return to_message(opened, patient_id, session.session_id, finding.ts)


def close(session: SessionState, condition: str, ts: datetime) -> None:
    """The condition's alert is resolved at `ts`: reports up to then will not raise it again."""
    del session.alerts[condition]
    previous = session.resolved_ts.get(condition)
    session.resolved_ts[condition] = ts if previous is None else max(previous, ts)


def mark_cleared(session: SessionState, condition: Condition, ts: datetime) -> None:
    """The condition's trigger is false (past hysteresis) at `ts`: start its resolution clock."""
    current = session.alerts.get(condition.value)
    if current is not None and current.auto_resolvable and current.clear_since is None:
        current.clear_since = ts


def apply_action(session: SessionState, condition: str, action: NurseAction, patient_id: str) -> Alert | None:
    """Ack stops escalation, resolve closes, note is recorded; None when nothing changed."""
    current = session.alerts.get(condition)
    if current is None or current.alert_id != action.alert_id:
        return None
    if action.note:
        current.notes.append(f"{action.by}: {action.note}")
    if action.type == "ack":
        if current.status is AlertStatus.ACKNOWLEDGED:
            return None
        current.status = AlertStatus.ACKNOWLEDGED
        current.next_escalation_due = None
        current.pending, current.confirm_due = False, None  # a nurse took it: nothing left to confirm
    elif action.type == "resolve":
        current.status = AlertStatus.RESOLVED
        close(session, condition, action.ts)
    else:
        return None
    return to_message(current, patient_id, session.session_id, action.ts, action.by, action.note)


def due_messages(session: SessionState, now: datetime, patient_id: str, rules: RuleSet) -> list[Alert]:
    """Automatic resolutions due by `now`, one message per due time, in order (escalation is the
    incident's: see `incidents`)."""
    messages: list[Alert] = []
    resolve_after = timedelta(minutes=rules.timing.resolve_after_minutes)
    for key, current in list(session.alerts.items()):
        current.next_escalation_due = None  # a per-alert timer of a state stored before incidents
        resolve_at = current.clear_since + resolve_after if current.clear_since else None
        if resolve_at is not None and resolve_at <= now:
            current.status = AlertStatus.RESOLVED
            close(session, key, resolve_at)
            messages.append(to_message(current, patient_id, session.session_id, resolve_at))
    messages.sort(key=lambda m: m.ts)
    return messages
