"""Timers in event time: baseline check, vitals overdue on the care schedule (stale data),
escalation and resolution."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.rules import confirmation, high_risk, incidents, vitals_schedule
from agents.rules.explain import action_text, evidence
from agents.rules.lifecycle import Finding, apply_finding, close, due_messages, to_message
from agents.rules.registry import RuleLine, register
from agents.rules.session import effective_stop, freeze_baseline_if_due, phase_at, span
from models.alerts import Alert, AlertStatus, Condition
from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState

JUST_PAST = timedelta(microseconds=1)
"""The smallest step of a datetime: a care-schedule step fires only once the clock is strictly past it."""


def due(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    """Every message of this session that falls due by `now`."""
    messages = _baseline_missing(state, session, now, rules)
    messages.extend(_stale(state, session, now, rules))
    messages.extend(due_messages(session, now, state.patient_id, rules))
    return messages


def _baseline_missing(
    state: PatientState, session: SessionState, now: datetime, rules: RuleSet
) -> list[Alert]:
    freeze_baseline_if_due(session, now, rules)
    if session.start_ts is None or session.baseline_checked:
        return []
    at = session.start_ts + span(minutes=rules.timing.baseline_post_start_minutes)
    if now < at:
        return []
    session.baseline_checked = True
    messages: list[Alert] = []
    fever = high_risk.at_baseline_frozen(state, session, at, rules)
    if fever is not None and (message := apply_finding(session, fever, state.patient_id, rules)):
        messages.append(message)
    missing = [v for v in rules.baseline.expected_vitals if v not in session.baseline]
    timing = rules.timing
    phase = phase_at(session, at, rules)
    if not missing or phase is not Phase.INFUSING:
        return messages
    finding = Finding(
        condition=Condition.BASELINE_MISSING,
        severity=rules.baseline.severity,
        rule_id=rules.baseline.id,
        title=rules.baseline.title,
        action=action_text(rules.baseline.action, state, session, at, phase, rules),
        evidence=evidence(
            session,
            at,
            phase,
            rules,
            f"No reading of {', '.join(missing)} in the {timing.baseline_pre_minutes:g} minutes "
            f"before start or the first {timing.baseline_post_start_minutes:g} minutes after",
        ),
        ts=at,
        from_vitals=False,
    )
    if message := apply_finding(session, finding, state.patient_id, rules):
        messages.append(message)
    return messages


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
        if (step := vitals_schedule.next_step(state, session, rules)) is not None:
            candidates.append(step + JUST_PAST)
        for alert in session.alerts.values():
            if alert.clear_since is not None:
                candidates.append(alert.clear_since + resolve_after)
            if alert.next_escalation_due is not None and alert.escalation_level < max_level:
                candidates.append(alert.next_escalation_due)
        stop = effective_stop(session, rules)
        if not session.alerts and stop is not None:
            candidates.append(stop + span(days=rules.timing.post_late_days))
    if (escalation := incidents.next_due(state, rules)) is not None:
        candidates.append(escalation)
    candidates.extend(d for s in state.sessions.values() if (d := confirmation.next_due(s)) is not None)
    return min(candidates, default=None)


def baseline_missing_lines(rules: RuleSet) -> list[RuleLine]:
    base, t = rules.baseline, rules.timing
    trigger = (
        f"no baseline for {', '.join(base.expected_vitals)} {t.baseline_post_start_minutes:g} min after start"
    )
    return [
        RuleLine(
            base.id, Condition.BASELINE_MISSING.value, trigger, base.severity.value, "infusing", base.source
        )
    ]


register("baseline", show_order=80, show=baseline_missing_lines)
