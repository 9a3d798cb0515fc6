"""Incident ownership and the acknowledgement timeout (pure; the clock is an argument).

Whoever acknowledges an incident owns it; a handover gives it to another nurse. An acknowledged
urgent or critical incident not resolved within the rule file's `[incidents.ack_timeout]` time of
its severity, counted from the acknowledgement (or the handover: the new owner gets the whole
time), reminds its owner; still not resolved `escalate_after_minutes` later, it escalates again,
unless it already reached the rule file's top escalation level (then the reminder is its last page).
The timers live on the incident's state (stored with the patient's state, so they survive a
restart) and go with it when it is resolved. `incidents` turns the steps into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from models.alerts import AlertStatus, Severity
from models.ruleset import RuleSet
from models.state import IncidentState


class Step(StrEnum):
    REMIND = "remind"
    """Page the owner alone: acknowledged, still not resolved."""
    ESCALATE = "escalate"
    """Escalate again, to the roster: the reminder was not answered by a resolution."""


@dataclass(frozen=True, slots=True)
class Due:
    """One step of the acknowledgement timeout, at its due time."""

    step: Step
    at: datetime
    owner: str | None


def reminder_delay(severity: Severity, rules: RuleSet) -> timedelta | None:
    """The rule file's time from acknowledgement to reminder at this severity (None: no reminder)."""
    timeout = rules.incidents.ack_timeout
    if timeout is None:
        return None
    if severity is Severity.CRITICAL:
        return timedelta(minutes=timeout.critical_minutes)
    if severity is Severity.URGENT:
        return timedelta(minutes=timeout.urgent_minutes)
    return None


def take(incident: IncidentState, owner: str, ts: datetime, rules: RuleSet) -> None:
    """`owner` acknowledged the incident (or took it over) at `ts`: it is theirs, its timeout restarts."""
    incident.owner = owner
    arm(incident, ts, rules)


def arm(incident: IncidentState, since: datetime, rules: RuleSet) -> None:
    """Start the reminder timer from `since` (none unless acknowledged at urgent or higher)."""
    delay = reminder_delay(incident.severity, rules)
    acknowledged = incident.status is AlertStatus.ACKNOWLEDGED
    incident.remind_due = since + delay if delay is not None and acknowledged else None
    incident.reescalate_due = None


def raised(incident: IncidentState, ts: datetime, rules: RuleSet) -> None:
    """The acknowledged incident's severity rose at `ts`: its reminder comes no later than the new
    severity's time from then."""
    delay = reminder_delay(incident.severity, rules)
    if incident.status is not AlertStatus.ACKNOWLEDGED or delay is None or incident.reescalate_due:
        return
    incident.remind_due = ts + delay if incident.remind_due is None else min(incident.remind_due, ts + delay)


def disarm(incident: IncidentState) -> None:
    """No longer acknowledged (a new page, a resolution): no reminder, no re-escalation."""
    incident.remind_due = incident.reescalate_due = None


def next_due(incident: IncidentState) -> datetime | None:
    return incident.remind_due or incident.reescalate_due


def due_steps(incident: IncidentState, until: datetime, rules: RuleSet, *, inclusive: bool) -> list[Due]:
    """The steps due by `until` (strictly before it unless `inclusive`), in order, applied to the
    incident's timers (the escalation itself, status and level, is the caller's)."""
    timeout = rules.incidents.ack_timeout
    out: list[Due] = []

    def due(at: datetime | None) -> bool:
        return at is not None and (at <= until if inclusive else at < until)

    if incident.status is not AlertStatus.ACKNOWLEDGED or timeout is None:
        disarm(incident)
        return out
    if due(incident.remind_due) and incident.remind_due is not None:
        at = incident.remind_due
        out.append(Due(Step.REMIND, at, incident.owner))
        incident.remind_due = None
        if incident.escalation_level < rules.timing.max_escalation_level:
            incident.reescalate_due = at + timedelta(minutes=timeout.escalate_after_minutes)
        # at the top level the roster's last person was paged already: the reminder is the last page
        # (escalating again at that level would page the same update twice, or forever, all night)
    if due(incident.reescalate_due) and incident.reescalate_due is not None:
        out.append(Due(Step.ESCALATE, incident.reescalate_due, incident.owner))
        incident.reescalate_due = None
    return out


def hand_over(incident: IncidentState, to: str, ts: datetime, rules: RuleSet) -> bool:
    """Give an acknowledged incident to `to` at `ts`; False when there is nothing to hand over (not
    acknowledged, or already theirs)."""
    if incident.status is not AlertStatus.ACKNOWLEDGED or incident.owner == to:
        return False
    take(incident, to, ts, rules)
    return True
