"""Timers in event time: baseline check, stale data, escalation and resolution."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from agents.rules import high_risk
from agents.rules.explain import action_text, evidence
from agents.rules.lifecycle import Finding, apply_finding, close, due_messages, to_message
from agents.rules.registry import RuleLine, register
from agents.rules.session import effective_stop, freeze_baseline_if_due, is_high_risk, phase_at, span
from models.alerts import Alert, AlertStatus, Condition, Severity
from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState

JUST_PAST = timedelta(microseconds=1)
"""The smallest step of a datetime: a stale-data step fires only once the clock is strictly past it."""


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


def _stale_steps(
    state: PatientState, session: SessionState, rules: RuleSet, before: datetime | None = None
) -> Iterator[tuple[int, Severity, float, datetime]]:
    """(level, severity, minutes, due) of the stale-data steps not yet reached that fall while
    infusing (and, when `before` is given, are due strictly before it)."""
    severities = rules.stale_data.severities
    if session.start_ts is None or session.stale_level >= len(severities):
        return
    last = max(session.last_vitals_ts or session.start_ts, session.start_ts)
    factor = rules.risk.stale_limit_factor if is_high_risk(state, rules) else 1.0
    limits = (rules.timing.stale_warning_minutes, rules.timing.stale_urgent_minutes)
    for level, (severity, minutes) in enumerate(zip(severities, limits, strict=True), start=1):
        at = last + span(minutes=minutes * factor)
        if session.stale_level >= level or (before is not None and at >= before):
            continue
        if phase_at(session, at, rules) is Phase.INFUSING:
            yield level, severity, minutes * factor, at


def _stale(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    messages: list[Alert] = []
    # strictly past: a reading on the minute is on time
    for level, severity, minutes, at in list(_stale_steps(state, session, rules, before=now)):
        phase = Phase.INFUSING
        session.stale_level = level
        finding = Finding(
            condition=Condition.STALE_DATA,
            severity=severity,
            rule_id=rules.stale_data.id,
            title=rules.stale_data.title,
            action=action_text(rules.stale_data.action, state, session, at, phase, rules),
            evidence=evidence(session, at, phase, rules, f"No vitals for {minutes:g} minutes while infusing"),
            ts=at,
            from_vitals=False,
        )
        if message := apply_finding(session, finding, state.patient_id, rules):
            messages.append(message)
    return messages


def resolve_stale(state: PatientState, session: SessionState, ts: datetime) -> list[Alert]:
    """Vitals arrived again: the stale-data alert resolves at that reading."""
    current = session.alerts.get(Condition.STALE_DATA.value)
    if current is None:
        return []
    close(session, Condition.STALE_DATA.value, ts)
    current.status = AlertStatus.RESOLVED
    return [to_message(current, state.patient_id, session.session_id, ts)]


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
        candidates.extend(at + JUST_PAST for *_, at in _stale_steps(state, session, rules))
        for alert in session.alerts.values():
            if alert.clear_since is not None:
                candidates.append(alert.clear_since + resolve_after)
            if alert.next_escalation_due is not None and alert.escalation_level < max_level:
                candidates.append(alert.next_escalation_due)
        stop = effective_stop(session, rules)
        if not session.alerts and stop is not None:
            candidates.append(stop + span(days=rules.timing.post_late_days))
    return min(candidates, default=None)


def stale_data_lines(rules: RuleSet) -> list[RuleLine]:
    stale, t, risk = rules.stale_data, rules.timing, rules.risk
    trigger = (
        f"no vitals for {t.stale_warning_minutes:g} / {t.stale_urgent_minutes:g} min "
        f"(x{risk.stale_limit_factor:g} for high risk)"
    )
    severities = " / ".join(s.value for s in stale.severities)
    return [RuleLine(stale.id, Condition.STALE_DATA.value, trigger, severities, "infusing", stale.source)]


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


register("stale_data", show_order=70, show=stale_data_lines)
register("baseline", show_order=80, show=baseline_missing_lines)
