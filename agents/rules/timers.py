"""Timers in event time: baseline check, vitals overdue on the care schedule (stale data),
escalation and resolution."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.rules import checkins, confirmation, high_risk, incidents, vitals_schedule
from agents.rules.explain import action_text, evidence
from agents.rules.lifecycle import Finding, apply_finding, close, due_messages, to_message
from agents.rules.minute_index import readings_since
from agents.rules.registry import RuleLine, register
from agents.rules.session import effective_stop, freeze_baseline_if_due, phase_at, span
from models.alerts import Alert, AlertStatus, Condition
from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState, memory_of

JUST_PAST = timedelta(microseconds=1)
"""The smallest step of a datetime: a care-schedule step fires only once the clock is strictly past it."""


def due(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    """Every message of this session that falls due by `now`."""
    # the overdue set first: when its page and the baseline reminder's fall at the same moment, the
    # set's (a full set of vitals, which brings the missing ones) is the operational incident's page
    messages = _stale(state, session, now, rules)
    messages.extend(_baseline_missing(state, session, now, rules))
    messages.extend(checkins.due(state, session, now, rules))
    messages.extend(due_messages(session, now, state.patient_id, rules))
    return messages


def _baseline_missing(
    state: PatientState, session: SessionState, now: datetime, rules: RuleSet
) -> list[Alert]:
    freeze_baseline_if_due(session, now, rules)
    if session.start_ts is None:
        return []
    if session.baseline_checked:
        return _baseline_grace(state, session, now, rules)
    at = session.start_ts + span(minutes=rules.timing.baseline_post_start_minutes)
    if now < at:
        return []
    session.baseline_checked = True
    messages: list[Alert] = []
    fever = high_risk.at_baseline_frozen(state, session, at, rules)
    if fever is not None and (message := apply_finding(session, fever, state.patient_id, rules)):
        messages.append(message)
    missing = [v for v in rules.baseline.expected_vitals if v not in session.baseline]
    phase = phase_at(session, at, rules)
    if not missing or phase is not Phase.INFUSING:
        session.baseline_grace_checked = True
        return messages
    base, timing = rules.baseline, rules.timing
    summary = (
        f"No reading of {', '.join(missing)} in the {timing.baseline_pre_minutes:g} minutes "
        f"before start or the first {timing.baseline_post_start_minutes:g} minutes after"
    )
    reminder = base.grace_minutes > 0
    if not reminder:
        session.baseline_grace_checked = True
    finding = Finding(
        condition=Condition.BASELINE_MISSING,
        severity=base.reminder_severity if reminder else base.severity,
        rule_id=base.id,
        title=(base.reminder_title or base.title) if reminder else base.title,
        action=action_text(
            (base.reminder_action or base.action) if reminder else base.action,
            state,
            session,
            at,
            phase,
            rules,
        ),
        evidence=evidence(
            session,
            at,
            phase,
            rules,
            summary + (f"; paged if still not read {base.grace_minutes:g} min later" if reminder else ""),
        ),
        ts=at,
        from_vitals=False,
        pending=reminder,
    )
    if message := apply_finding(session, finding, state.patient_id, rules):
        messages.append(message)
    return messages + _baseline_grace(state, session, now, rules)


def _baseline_grace_due(session: SessionState, rules: RuleSet) -> datetime | None:
    """When the baseline reminder's grace ends (None: no reminder is waiting)."""
    if session.start_ts is None or not session.baseline_checked or session.baseline_grace_checked:
        return None
    minutes = rules.timing.baseline_post_start_minutes + rules.baseline.grace_minutes
    return session.start_ts + span(minutes=minutes)


def _baseline_grace(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    """At the end of the reminder's grace: the vitals still not read at all since the baseline
    window page (their relative limits stay off); if every one has been read meanwhile, the
    reminder closes without a page."""
    at = _baseline_grace_due(session, rules)
    if at is None or now < at or session.start_ts is None:
        return []
    session.baseline_grace_checked = True
    current = session.alerts.get(Condition.BASELINE_MISSING.value)
    if current is None or not current.pending or current.status is not AlertStatus.FIRING:
        return []  # a nurse acknowledged or resolved the reminder meanwhile
    since = session.start_ts + span(minutes=rules.timing.baseline_post_start_minutes)
    read = {v for r in readings_since(session, since) for v in r.values}
    still = [v for v in rules.baseline.expected_vitals if v not in session.baseline and v not in read]
    phase = phase_at(session, at, rules)
    if not still or phase is not Phase.INFUSING:
        current.status = AlertStatus.RESOLVED
        close(session, Condition.BASELINE_MISSING.value, at)
        return [to_message(current, state.patient_id, session.session_id, at)]
    base, timing = rules.baseline, rules.timing
    finding = Finding(
        condition=Condition.BASELINE_MISSING,
        severity=base.severity,
        rule_id=base.id,
        title=base.title,
        action=action_text(base.action, state, session, at, phase, rules),
        evidence=evidence(
            session,
            at,
            phase,
            rules,
            f"No reading of {', '.join(still)} in the {timing.baseline_pre_minutes:g} minutes before start, "
            f"nor since ({timing.baseline_post_start_minutes + base.grace_minutes:g} minutes after start)",
        ),
        ts=at,
        from_vitals=False,
    )
    message = apply_finding(session, finding, state.patient_id, rules)
    return [message] if message else []


def _stale(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    """Vitals overdue on the care schedule: reminders (pending), pages, and the closing of an open
    overdue alert when the schedule ends (or when late-arriving vitals count for its sets)."""
    messages: list[Alert] = []
    for item in vitals_schedule.overdue(state, session, now, rules):
        if isinstance(item, Finding):
            if message := apply_finding(session, item, state.patient_id, rules):
                messages.append(message)
        elif (current := session.alerts.get(Condition.STALE_DATA.value)) is not None:
            phase = phase_at(session, item.ts, rules)
            current.evidence = evidence(session, item.ts, phase, rules, item.summary)
            messages.extend(_close_stale(state, session, item.ts))
    return messages


def _close_stale(state: PatientState, session: SessionState, ts: datetime) -> list[Alert]:
    current = session.alerts.get(Condition.STALE_DATA.value)
    if current is None:
        return []
    close(session, Condition.STALE_DATA.value, ts)
    current.status = AlertStatus.RESOLVED
    return [to_message(current, state.patient_id, session.session_id, ts)]


def resolve_stale(state: PatientState, session: SessionState, ts: datetime) -> list[Alert]:
    """Vitals arrived: the overdue alert resolves at that reading (any vitals reading is a set)."""
    return _close_stale(state, session, ts)


class KnownDue:
    """`next_due` of the state as the engine left it (memory only, never stored): the next event's
    `advance` and the runtime's due index read it instead of computing it again."""

    __slots__ = ("at", "rules")

    def __init__(self, rules: RuleSet, at: datetime | None) -> None:
        self.rules = rules
        self.at = at

    def __eq__(self, other: object) -> bool:
        """Derived from the state's own fields: it never makes two states differ."""
        return other is None or isinstance(other, KnownDue)

    __hash__ = None  # type: ignore[assignment]


def remember_next_due(state: PatientState, rules: RuleSet) -> datetime | None:
    """`next_due`, kept on the state until the engine changes it again (`forget_next_due`)."""
    at = next_due(state, rules)
    memory_of(state)["_due"] = KnownDue(rules, at)
    return at


def known_next_due(state: PatientState, rules: RuleSet) -> datetime | None:
    """`next_due` as remembered, or computed (and remembered) when the engine changed the state since."""
    known: KnownDue | None = memory_of(state)["_due"]
    if known is not None and known.rules is rules:
        return known.at
    return remember_next_due(state, rules)


def remembered_next_due(state: PatientState, rules: RuleSet) -> bool:
    """Whether `next_due` is remembered for this rule set (the engine has not changed the state since)."""
    known: KnownDue | None = memory_of(state)["_due"]
    return known is not None and known.rules is rules


def quiet_before(state: PatientState, now: datetime, rules: RuleSet) -> bool:
    """Nothing is due by `now` as the state was remembered: `advance` would only move the clock."""
    known: KnownDue | None = memory_of(state)["_due"]
    return known is not None and known.rules is rules and (known.at is None or now < known.at)


def forget_next_due(state: PatientState) -> None:
    memory_of(state)["_due"] = None


def next_due(state: PatientState, rules: RuleSet) -> datetime | None:
    """The earliest clock time at which `advance` could change this patient: emit a message (baseline
    check, stale-data steps that fall while infusing, escalations, resolutions) or drop a session
    past post-late. Pure: `advance(state, now)` for any `now` before it does nothing but move the clock."""
    candidates: list[datetime] = []
    resolve_after = span(minutes=rules.timing.resolve_after_minutes)
    max_level = rules.timing.max_escalation_level
    for session in state.sessions.values():
        if session.start_ts is not None and not (session.baseline_checked and session.baseline_final):
            candidates.append(session.start_ts + span(minutes=rules.timing.baseline_post_start_minutes))
        if (grace := _baseline_grace_due(session, rules)) is not None:
            candidates.append(grace)
        if (step := vitals_schedule.next_step(state, session, rules)) is not None:
            candidates.append(step + JUST_PAST)
        if (asked := checkins.next_step(state, session, rules)) is not None:
            candidates.append(asked)
        for alert in session.alerts.values():
            if alert.clear_since is not None:
                candidates.append(alert.clear_since + resolve_after)
            if alert.next_escalation_due is not None and alert.escalation_level < max_level:
                candidates.append(alert.next_escalation_due)
        stop = effective_stop(session, rules)
        if not session.alerts and stop is not None:
            candidates.append(stop + span(days=rules.timing.post_late_days))
        elif not session.alerts and session.start_ts is None:  # never started: dropped as well
            candidates.append(session.first_ts + span(days=rules.timing.post_late_days))
    if (escalation := incidents.next_due(state, rules)) is not None:
        candidates.append(escalation)
    candidates.extend(d for s in state.sessions.values() if (d := confirmation.next_due(s)) is not None)
    return min(candidates, default=None)


def baseline_missing_lines(rules: RuleSet) -> list[RuleLine]:
    base, t = rules.baseline, rules.timing
    trigger = (
        f"no baseline for {', '.join(base.expected_vitals)} {t.baseline_post_start_minutes:g} min after start"
    )
    if base.grace_minutes > 0:
        trigger += (
            f": a {base.reminder_severity.value} reminder, paged for the vitals still not read "
            f"{base.grace_minutes:g} min later"
        )
    return [
        RuleLine(
            base.id, Condition.BASELINE_MISSING.value, trigger, base.severity.value, "infusing", base.source
        )
    ]


register("baseline", show_order=80, show=baseline_missing_lines)
