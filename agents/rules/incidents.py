"""Incidents: a patient's findings of one episode, paged and escalated as one (pure).

Every alert message of warning or higher joins the patient's open incident of its kind (clinical, or
about the monitoring itself), unless that incident's last new member joined more than the rule
file's gap earlier (or it is resolved): then it opens a new one. The incident has the highest
severity of its confirmed members and the only escalation timer (the [timing] delays at that
severity). A member message pages (`page`) at its own severity unless an inhibition row covers it
(an open, confirmed member of a covering condition, for example an anaphylaxis covering the
hypotension of the same episode), or unless its incident, not yet acknowledged, has already paged
at urgent or higher and at least at its severity (the incident's escalations keep paging until
someone acknowledges). Of the findings one moment brings, only the most severe pages. A new,
uncovered member of an acknowledged incident pages and opens the incident again, so an
acknowledgement never hides a new problem. A nurse acknowledging the incident, or any of its
alerts, acknowledges all of its open members; resolving the incident resolves them. The incident's
own state goes on the alerts topic as a message of condition `incident` whose `alert_id` is the
incident id; only its escalations page, and a held warning: an incident's first page at warning
waits the rule file's group wait after its first evidence, so that a more severe member arriving
meanwhile pages alone (then the incident pages as itself if nothing more severe came).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import groupby

from agents.rules import ownership, resolve_quiet
from agents.rules.lifecycle import apply_action as apply_member_action
from agents.rules.lifecycle import open_alert, parse_alert_id
from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from models.events import NurseAction
from models.ruleset import RuleSet
from models.state import AlertState, IncidentState, PatientState

RULE_ID = "incidents"
OPERATIONAL = frozenset({Condition.STALE_DATA, Condition.BASELINE_MISSING, Condition.MISSED_CHECKIN})
"""Findings about the monitoring itself (vitals overdue, no baseline): they form incidents of their
own, so a missing set never hides a clinical finding in its incident, nor the reverse."""
TITLE_LIMIT = 120
SAME_INSTANT = timedelta(microseconds=1)
"""A held page's timer is due just after its wait ends: a finding of that very instant still joins
(and may page instead) before the held page is released."""


def incident_id(patient_id: str, n: int) -> str:
    return f"{patient_id}:{Condition.INCIDENT.value}:{n}"


def is_incident_id(value: str) -> bool:
    parts = value.rsplit(":", 2)
    return len(parts) == 3 and parts[1] == Condition.INCIDENT.value and parts[2].isdigit()


def settle(state: PatientState, messages: Iterable[Alert], now: datetime, rules: RuleSet) -> list[Alert]:
    """The members' messages in time order, each attached to its incident (with its `incident_id`
    and `page` decided), after the incident escalations due before it; then those due by `now`.
    Findings of the same time join first and are decided together, so an anaphylaxis covers the
    low pressure read in the same set, whichever rule produced its message first."""
    out: list[Alert] = []
    ordered = sorted(messages, key=lambda m: m.ts)
    for ts, group in groupby(ordered, key=lambda m: m.ts):
        batch = list(group)
        out.extend(_released(state, ts, rules))
        out.extend(_ack_timeouts(state, ts, rules, inclusive=False))
        out.extend(_escalations(state, ts, rules, inclusive=False))
        for message in batch:
            if _joins(state, message):
                _join(state, message, rules)
        out.extend(_one_page_per_incident([m for message in batch for m in _attach(state, message, rules)]))
    out.extend(_released(state, now, rules))
    out.extend(_ack_timeouts(state, now, rules, inclusive=True))
    out.extend(_escalations(state, now, rules, inclusive=True))
    for incident in list(state.incidents):
        if _all_closed(state, incident):  # a member closed without a message of its own
            out.extend(_resolve(state, incident, now, rules))
    return out


def _one_page_per_incident(messages: list[Alert]) -> list[Alert]:
    """Of the findings one moment brings to an incident, only the most severe pages (the first of
    equals): the others are in the same incident, on the same screen."""
    best: dict[str, Alert] = {}
    for message in messages:
        if message.page and message.incident_id and message.condition is not Condition.INCIDENT:
            kept = best.get(message.incident_id)
            if kept is None or message.severity.rank > kept.severity.rank:
                best[message.incident_id] = message
    keep = {id(m) for m in best.values()}
    return [
        m
        if not m.page or m.condition is Condition.INCIDENT or id(m) in keep
        else m.model_copy(update={"page": False})
        for m in messages
    ]


def apply_action(state: PatientState, action: NurseAction, rules: RuleSet) -> list[Alert]:
    """A nurse action naming an incident or one of its alerts (or an alert of no incident). An
    acknowledgement acts on the whole incident (its nurse owns it); a handover gives it to another
    nurse; a resolution or note naming the incident acts on every open member, one naming an alert
    on that alert. A resolution's messages carry its outcome and the action taken."""
    quietable = _acknowledged_vital_findings(state) if action.type == "resolve" else set()
    out = _apply_action(state, action, rules)
    if action.type != "resolve":
        return out
    if action.outcome is None and action.action_taken is None:
        resolve_quiet.record(state, out, quietable, rules)  # no outcome: ends earlier quiets
        return out
    closing: dict[str, object] = {"outcome": action.outcome, "action_taken": action.action_taken}
    closed = [m.model_copy(update=closing) if m.status is AlertStatus.RESOLVED else m for m in out]
    resolve_quiet.record(state, closed, quietable, rules)
    return [_with_quiet(state, m) for m in closed]


def _acknowledged_vital_findings(state: PatientState) -> set[str]:
    """The open findings raised by vital signs that a nurse has acknowledged: only these may go
    quiet at a resolution (a member that joined after the acknowledgement, or a symptom's, never)."""
    return {
        alert.alert_id
        for session in state.sessions.values()
        for alert in session.alerts.values()
        if alert.status is AlertStatus.ACKNOWLEDGED and alert.raised_by_vitals
    }


def _with_quiet(state: PatientState, message: Alert) -> Alert:
    """A resolution's message, its evidence saying what quiet it started (if any)."""
    session = state.sessions.get(message.session_id)
    quiet = session.quiet.get(message.condition.value) if session is not None else None
    if quiet is None or quiet.ts != message.ts or message.condition is Condition.INCIDENT:
        return message
    summary = f"{message.evidence.summary}; {resolve_quiet.evidence(quiet)}"
    return message.model_copy(update={"evidence": message.evidence.model_copy(update={"summary": summary})})


def _apply_action(state: PatientState, action: NurseAction, rules: RuleSet) -> list[Alert]:
    if action.type == "handover":
        return _hand_over(state, action, rules)
    if is_incident_id(action.alert_id):
        incident = incident_by_id(state, action.alert_id)
        if incident is None:
            return []
        targets = [m for m in incident.members if open_alert(state, m) is not None]
    else:
        incident = _incident_of(state, action.alert_id)
        if incident is None:
            member = _member_action(state, action, action.alert_id)
            return [] if member is None else [member]
        targets = [action.alert_id]
        if action.type == "ack":
            targets += [m for m in incident.members if m != action.alert_id and open_alert(state, m)]
    members = [m for target in targets if (m := _member_action(state, action, target)) is not None]
    if action.type == "ack" and incident.status is not AlertStatus.ACKNOWLEDGED:
        incident.owner = action.by  # its members' acknowledgements name their owner too
    out = [_as_member(m, incident, page=False) for m in members]
    for member in members:  # an acknowledged pending finding counts as confirmed by the nurse
        if member.status is AlertStatus.ACKNOWLEDGED and member.severity.rank > incident.severity.rank:
            incident.severity = member.severity
    if action.type == "ack" and not incident.announced and incident.severity is not Severity.INFO:
        incident.announced = True  # its first state, then the acknowledgement
        out.append(_message(state, incident, action.ts, rules))
    if action.type == "ack":
        incident.hold_until = None  # the nurse has it: the held warning need not page
    if action.type == "ack" and incident.status is not AlertStatus.ACKNOWLEDGED:
        incident.status, incident.by, incident.next_escalation_due = AlertStatus.ACKNOWLEDGED, action.by, None
        incident.paged = None
        ownership.take(incident, action.by, action.ts, rules)
        if incident.announced:
            out.append(_message(state, incident, action.ts, rules, by=action.by, note=action.note))
    if _all_closed(state, incident):
        out.extend(_resolve(state, incident, action.ts, rules, by=action.by, note=action.note))
    return out


def _hand_over(state: PatientState, action: NurseAction, rules: RuleSet) -> list[Alert]:
    """The incident named (or the incident of the alert named) goes to `action.to`: its state,
    with the new owner, the nurse who handed it over and their note (no page)."""
    named = action.alert_id
    incident = incident_by_id(state, named) if is_incident_id(named) else _incident_of(state, named)
    if (
        incident is None
        or action.to is None
        or not ownership.hand_over(incident, action.to, action.ts, rules)
    ):
        return []
    return [_message(state, incident, action.ts, rules, by=action.by, note=action.note)]


def next_due(state: PatientState, rules: RuleSet) -> datetime | None:
    """The earliest incident escalation (or acknowledgement-timeout step) still to come."""
    level = rules.timing.max_escalation_level
    due = [
        i.next_escalation_due for i in state.incidents if i.next_escalation_due and i.escalation_level < level
    ]
    due += [d for i in state.incidents if (d := ownership.next_due(i)) is not None]
    due += [i.hold_until + SAME_INSTANT for i in state.incidents if i.hold_until is not None]
    return min(due, default=None)


def _attach(state: PatientState, message: Alert, rules: RuleSet) -> list[Alert]:
    if message.condition in (Condition.PIPELINE_STALLED, Condition.INCIDENT):
        return [message]
    incident = _incident_of(state, message.alert_id)
    if incident is None:
        if not _joins(state, message):
            return [message]  # information, or an update of an alert older than incidents
        incident = _join(state, message, rules)
    if message.status is AlertStatus.RESOLVED:
        out = [_as_member(message, incident, page=False)]
        incident.closed.append(message.alert_id)
        if set(incident.members) <= set(incident.closed):
            out.extend(_resolve(state, incident, message.ts, rules))
        return out
    if message.status is not AlertStatus.FIRING:
        return [_as_member(message, incident, page=False)]
    covered = _covered(state, incident, message, rules)
    already = (
        incident.paged is not None
        and incident.paged.rank >= Severity.URGENT.rank  # its escalations page again, until acknowledged
        and message.severity.rank <= incident.paged.rank
    )
    page = message.page and not covered and not already
    if page and message.severity is Severity.WARNING and incident.paged is None:
        page = not _hold(state, incident, message, rules)
    changed = False
    if message.page:  # a confirmed finding: it counts for the incident's severity
        if message.severity.rank > incident.severity.rank:
            incident.severity, changed = message.severity, True
            if incident.status is AlertStatus.ESCALATED:
                incident.status = AlertStatus.FIRING  # a raise is firing again, as an alert's is
        if page and incident.status is AlertStatus.ACKNOWLEDGED:
            incident.status, incident.by, changed = AlertStatus.FIRING, None, True
            ownership.disarm(incident)  # paging the roster again: no reminder to the owner
        if page:
            incident.paged, incident.hold_until = message.severity, None
        if changed or not incident.announced:
            _arm(incident, message.ts, rules)
            changed = True
    out = [_as_member(message, incident, page=page)]
    if changed:
        incident.announced = True
        out.append(_message(state, incident, message.ts, rules))
    return out


def _joins(state: PatientState, message: Alert) -> bool:
    """A finding of warning or higher that is not yet a member of an incident."""
    return (
        message.condition not in (Condition.PIPELINE_STALLED, Condition.INCIDENT)
        and message.status is AlertStatus.FIRING
        and message.severity is not Severity.INFO
        and _incident_of(state, message.alert_id) is None
    )


def _join(state: PatientState, message: Alert, rules: RuleSet) -> IncidentState:
    """The open incident this new finding belongs to, or a new one."""
    gap = timedelta(minutes=rules.incidents.gap_minutes)
    operational = message.condition in OPERATIONAL
    for incident in reversed(state.incidents):
        if incident.operational == operational and message.ts - incident.last_member_ts <= gap:
            incident.members.append(message.alert_id)
            incident.last_member_ts = max(incident.last_member_ts, message.ts)
            return incident
    state.incident_count += 1
    incident = IncidentState(
        incident_id=incident_id(state.patient_id, state.incident_count),
        session_id=message.session_id,
        opened_ts=message.ts,
        last_member_ts=message.ts,
        members=[message.alert_id],
        operational=operational,
    )
    state.incidents.append(incident)
    return incident


def _covered(state: PatientState, incident: IncidentState, message: Alert, rules: RuleSet) -> bool:
    """An open, confirmed member of the incident covers this finding's condition."""
    covering = rules.covered_by.get(message.condition, frozenset())
    if not covering:
        return False
    for member_id in incident.members:
        member = open_alert(state, member_id)
        if member is not None and member.condition in covering and not member.pending:
            return True
    return False


def _arm(incident: IncidentState, since: datetime, rules: RuleSet) -> None:
    """(Re)start the escalation timer from `since`, unless the incident is acknowledged (then its
    owner's reminder comes no later than its new severity's time)."""
    delay = _delay(incident.severity, rules)
    acknowledged = incident.status is AlertStatus.ACKNOWLEDGED
    incident.next_escalation_due = None if delay is None or acknowledged else since + delay
    ownership.raised(incident, since, rules)


def _delay(severity: Severity, rules: RuleSet) -> timedelta | None:
    if severity is Severity.CRITICAL:
        return timedelta(minutes=rules.timing.escalate_critical_minutes)
    if severity is Severity.URGENT:
        return timedelta(minutes=rules.timing.escalate_urgent_minutes)
    return None


def _hold(state: PatientState, incident: IncidentState, message: Alert, rules: RuleSet) -> bool:
    """Hold a warning page until the group wait after its finding's first evidence has passed
    (Alertmanager's group_wait: wait for an inhibiting or more severe alert to arrive). A finding
    already closed again by the end of this evaluation is not held."""
    member = open_alert(state, message.alert_id)
    if member is None:
        return False
    until = member.opened_ts + timedelta(minutes=rules.incidents.group_wait_minutes)
    if until <= message.ts:
        return False
    incident.hold_until = until if incident.hold_until is None else min(incident.hold_until, until)
    return True


def _released(state: PatientState, until: datetime, rules: RuleSet) -> list[Alert]:
    """Held warning pages whose group wait ended before `until` (strictly: a finding of that very
    instant joins first): the incident pages then, as itself (its members are on the same screen),
    unless something more severe paged meanwhile or a nurse acknowledged it (a resolved incident
    is gone)."""
    out: list[Alert] = []
    for incident in state.incidents:
        due = incident.hold_until
        if due is None or due >= until:
            continue
        incident.hold_until = None
        if incident.paged is not None:
            continue
        incident.paged = incident.severity
        if incident.status is AlertStatus.ACKNOWLEDGED:  # a new member after the acknowledgement
            incident.status, incident.by = AlertStatus.FIRING, None
            ownership.disarm(incident)
        incident.announced = True
        out.append(_message(state, incident, due, rules, page=True))
    out.sort(key=lambda m: m.ts)
    return out


def _ack_timeouts(state: PatientState, until: datetime, rules: RuleSet, *, inclusive: bool) -> list[Alert]:
    """Acknowledged incidents not resolved in time: a reminder paging the owner alone, then an
    escalation paging the roster (the incident is no longer acknowledged: its escalation timer runs
    again until someone acknowledges it, who then owns it)."""
    out: list[Alert] = []
    for incident in state.incidents:
        for step in ownership.due_steps(incident, until, rules, inclusive=inclusive):
            if step.step is ownership.Step.REMIND:
                note = f"Reminder to {step.owner}: acknowledged, not resolved yet; resolve it or hand it over"
                out.append(_message(state, incident, step.at, rules, page=True, notify=step.owner, note=note))
                continue
            incident.status, incident.by = AlertStatus.ESCALATED, None
            incident.escalation_level += 1  # below the top level: ownership arms no re-escalation there
            incident.paged = incident.severity
            delay = _delay(incident.severity, rules)
            incident.next_escalation_due = None if delay is None else step.at + delay
            note = f"Escalated: acknowledged by {step.owner}, not resolved after the reminder"
            out.append(_message(state, incident, step.at, rules, page=True, note=note))
    out.sort(key=lambda m: m.ts)
    return out


def _escalations(state: PatientState, until: datetime, rules: RuleSet, *, inclusive: bool) -> list[Alert]:
    """Escalations of unacknowledged incidents due by `until` (strictly before it unless
    `inclusive`), one message per due time, each a page."""
    out: list[Alert] = []
    top = rules.timing.max_escalation_level
    for incident in state.incidents:
        while (
            (due := incident.next_escalation_due) is not None
            and (due <= until if inclusive else due < until)
            and incident.escalation_level < top
            and incident.status is not AlertStatus.ACKNOWLEDGED
        ):
            incident.escalation_level += 1
            incident.status = AlertStatus.ESCALATED
            delay = _delay(incident.severity, rules)
            incident.next_escalation_due = None if delay is None else due + delay
            out.append(_message(state, incident, due, rules, page=True))
        if incident.escalation_level >= top:
            incident.next_escalation_due = None
    out.sort(key=lambda m: m.ts)
    return out


def _resolve(
    state: PatientState,
    incident: IncidentState,
    ts: datetime,
    rules: RuleSet,
    by: str | None = None,
    note: str | None = None,
) -> list[Alert]:
    """Resolve the incident (its members are closed or being closed) and forget it."""
    incident.status, incident.next_escalation_due = AlertStatus.RESOLVED, None
    ownership.disarm(incident)
    state.incidents = [i for i in state.incidents if i.incident_id != incident.incident_id]
    if not incident.announced:
        return []
    return [_message(state, incident, ts, rules, by=by, note=note)]


def _message(
    state: PatientState,
    incident: IncidentState,
    ts: datetime,
    rules: RuleSet,
    *,
    page: bool = False,
    by: str | None = None,
    note: str | None = None,
    notify: str | None = None,
) -> Alert:
    """The incident's state as an alert message of condition `incident`."""
    conditions = [parsed[1] for m in incident.members if (parsed := parse_alert_id(m))]
    lead = _lead(state, incident)
    if by is None and incident.status is AlertStatus.ACKNOWLEDGED:
        by = incident.by
    title = f"Incident ({incident.severity.value}): " + ", ".join(dict.fromkeys(conditions))
    summary = f"{len(incident.members)} finding(s) of one episode: " + "; ".join(
        f"{m.condition.value} {m.severity.value}" + (" (pending)" if m.pending else "")
        for member_id in incident.members
        if (m := open_alert(state, member_id)) is not None
    )
    if incident.patient_saw is not None:
        summary += f"; the patient saw it on the app at {incident.patient_saw:%H:%M} UTC"
    if incident.status is AlertStatus.RESOLVED:
        action = "No action: every finding of this incident is resolved."
    elif lead is not None:
        action = lead.action
    else:
        action = "Review the findings of this incident."
    return Alert(
        alert_id=incident.incident_id,
        patient_id=state.patient_id,
        session_id=incident.session_id,
        status=incident.status,
        severity=incident.severity,
        condition=Condition.INCIDENT,
        ts=ts,
        escalation_level=incident.escalation_level,
        title=title[:TITLE_LIMIT],
        evidence=Evidence(summary=summary, phase=lead.evidence.phase if lead else "-"),
        action=action,
        rule=RuleRef(id=RULE_ID, version=rules.version),
        by=by,
        note=note,
        incident_id=incident.incident_id,
        page=page,
        owner=incident.owner,
        notify=notify,
    )


def _as_member(message: Alert, incident: IncidentState, *, page: bool) -> Alert:
    """A member's message as its incident sends it: with the incident's id, owner and page decision."""
    return message.model_copy(
        update={"incident_id": incident.incident_id, "page": page, "owner": incident.owner}
    )


def _lead(state: PatientState, incident: IncidentState) -> AlertState | None:
    """The open, confirmed member of the highest severity (the first to join among equals)."""
    best: AlertState | None = None
    for member_id in incident.members:
        member = open_alert(state, member_id)
        if (
            member is not None
            and not member.pending
            and (best is None or member.severity.rank > best.severity.rank)
        ):
            best = member
    return best


def _member_action(state: PatientState, action: NurseAction, member_id: str) -> Alert | None:
    parsed = parse_alert_id(member_id)
    session = state.sessions.get(parsed[0]) if parsed else None
    if parsed is None or session is None:
        return None
    return apply_member_action(
        session, parsed[1], action.model_copy(update={"alert_id": member_id}), state.patient_id
    )


def _all_closed(state: PatientState, incident: IncidentState) -> bool:
    return all(open_alert(state, member_id) is None for member_id in incident.members)


def _incident_of(state: PatientState, alert_id: str) -> IncidentState | None:
    return next((i for i in state.incidents if alert_id in i.members), None)


def patient_saw(state: PatientState, value: str | None, ts: datetime, rules: RuleSet) -> list[Alert]:
    """The patient's app showed a message of incident `value`: its state says so (no page)."""
    incident = incident_by_id(state, value)
    if incident is None or incident.status is AlertStatus.RESOLVED:
        return []
    incident.patient_saw = ts if incident.patient_saw is None else max(incident.patient_saw, ts)
    return [_message(state, incident, ts, rules, note=f"seen by the patient at {ts:%H:%M} UTC")]


def incident_by_id(state: PatientState, value: str | None) -> IncidentState | None:
    """The patient's open incident with this id (None: none)."""
    return next((i for i in state.incidents if i.incident_id == value), None)
