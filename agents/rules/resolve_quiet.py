"""Quiet after a nurse's resolution (rule file `[incidents.quiet_after_resolve]`): a vital-sign finding
a nurse resolved as not needing action (or as an artefact) does not open again at the next reading
past the same limit; it stays quiet until the pump stops or the rule file's time passes (IEC
60601-1-8's acknowledged alarm, whose signal stays off for a set time). Not until the next clear
reading: a borderline value the nurse judged dips in and out of its limit with measurement noise.

Pure: a reading's own time decides, so live and replay agree. Only the vital-sign findings the nurse
had acknowledged go quiet, and only their warning and urgent threshold rows at the resolved severity
or below (the rows a nurse may snooze); a reading in a higher band, a critical row, an extreme value,
a composite or a symptom still pages, and a quiet condition that holds still corroborates others
(agents/rules/quiet_state.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from agents.rules.confirmation import beyond_extreme
from agents.rules.patient_limits import snoozable_rows
from agents.rules.quiet_state import in_force
from agents.rules.thresholds import RowResult
from models.alerts import Alert, AlertStatus, Condition, Severity
from models.ruleset import RuleSet
from models.state import PatientState, QuietInForce, SessionState

QUIETABLE = (Severity.WARNING, Severity.URGENT)
"""The severities a quiet covers: those of the rows a nurse may snooze (`snoozable_rows`)."""


def quiet_of(resolved: Alert, rules: RuleSet) -> QuietInForce | None:
    """The quiet a finding's resolution message starts (None: none): a vital-sign finding at warning
    or urgent, resolved with an outcome the rule file lists. The console shows it from the message."""
    rule = rules.incidents.quiet_after_resolve
    if (
        rule is None
        or resolved.status is not AlertStatus.RESOLVED
        or resolved.outcome not in rule.outcomes
        or resolved.condition is Condition.INCIDENT
        or resolved.severity not in QUIETABLE
        or not _has_quietable_rows(resolved.condition, resolved.severity, rules)
    ):
        return None
    until = resolved.ts + timedelta(minutes=rule.max_minutes)
    return QuietInForce(ts=resolved.ts, until=until, severity=resolved.severity, by=resolved.by)


def record(state: PatientState, closed: list[Alert], quietable: set[str], rules: RuleSet) -> None:
    """A nurse's resolution (its messages, with their outcome): each finding of `quietable` (the
    vital-sign findings the nurse had acknowledged) goes quiet when the outcome says so; any other
    finding it resolved ends an earlier quiet of its condition."""
    for alert in closed:
        session = state.sessions.get(alert.session_id)
        if (
            session is None
            or alert.status is not AlertStatus.RESOLVED
            or alert.condition is Condition.INCIDENT
        ):
            continue
        quiet = quiet_of(alert, rules) if alert.alert_id in quietable else None
        if quiet is None:
            session.quiet.pop(alert.condition.value, None)
        else:
            session.quiet[alert.condition.value] = quiet


def _has_quietable_rows(condition: Condition, severity: Severity, rules: RuleSet) -> bool:
    return any(r.severity.rank <= severity.rank for r in snoozable_rows(rules, condition.value))


def adjust(session: SessionState, result: RowResult, ts: datetime, rules: RuleSet) -> RowResult:
    """A row's result with the condition's quiet applied: a quiet row does not fire (it still holds)."""
    rule = result.rule
    if not result.fires or rule.severity not in QUIETABLE:
        return result
    quiet = in_force(session, rule.condition, ts)
    if quiet is None or rule.severity.rank > quiet.severity.rank:
        return result
    if beyond_extreme({rule.vital: result.value}, rules):
        return result
    return replace(result, fires=False)


def evidence(quiet: QuietInForce) -> str:
    """What a resolution's message says of the quiet it starts (and the console shows)."""
    return (
        f"kept quiet at {quiet.severity.value} or below until the pump stops, at most until "
        f"{quiet.until:%Y-%m-%d %H:%M} UTC; a reading in a higher band still pages"
    )


def says_quiet(message: Alert) -> bool:
    """Whether a resolution's message says it started a quiet (the console shows only those)."""
    return "; kept quiet at " in message.evidence.summary
