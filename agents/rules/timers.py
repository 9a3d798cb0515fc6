"""Timers in event time: baseline check, stale data, escalation and resolution."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.rules.explain import evidence
from agents.rules.lifecycle import Finding, apply_finding, due_messages, to_message
from agents.rules.session import freeze_baseline_if_due, is_high_risk, phase_at
from models.alerts import Alert, AlertStatus, Condition, Severity
from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState

STALE_RULE_ID = "stale_data.no_vitals"
STALE_SOURCE_LEVELS = ((1, Severity.WARNING), (2, Severity.URGENT))


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
    at = session.start_ts + timedelta(minutes=rules.timing.baseline_post_start_minutes)
    if now < at:
        return []
    session.baseline_checked = True
    missing = [v for v in rules.baseline.expected_vitals if v not in session.baseline]
    phase = phase_at(session, at, rules)
    if not missing or phase is not Phase.INFUSING:
        return []
    finding = Finding(
        condition=Condition.BASELINE_MISSING, severity=rules.baseline.severity,
        rule_id="baseline_missing.after_start", title="No baseline for some vitals",
        action=rules.baseline.action,
        evidence=evidence(session, at, phase, rules,
                          f"No reading of {', '.join(missing)} in the 30 minutes before start "
                          f"or the first {rules.timing.baseline_post_start_minutes:g} minutes after"),
        ts=at, from_vitals=False,
    )
    message = apply_finding(session, finding, state.patient_id, rules)
    return [message] if message else []


def _stale(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    if session.start_ts is None:
        return []
    last = max(session.last_vitals_ts or session.start_ts, session.start_ts)
    factor = rules.risk.stale_limit_factor if is_high_risk(state, rules) else 1.0
    limits = (rules.timing.stale_warning_minutes, rules.timing.stale_urgent_minutes)
    messages: list[Alert] = []
    for (level, severity), minutes in zip(STALE_SOURCE_LEVELS, limits, strict=True):
        at = last + timedelta(minutes=minutes * factor)
        if session.stale_level >= level or at >= now:  # strictly past: a reading on the minute is on time
            continue
        phase = phase_at(session, at, rules)
        if phase is not Phase.INFUSING:
            continue
        session.stale_level = level
        finding = Finding(
            condition=Condition.STALE_DATA, severity=severity, rule_id=STALE_RULE_ID,
            title="No vitals from the home devices",
            action="Call the patient now: check the devices are on and connected, and take a set of vitals.",
            evidence=evidence(session, at, phase, rules,
                              f"No vitals for {minutes * factor:g} minutes while infusing"),
            ts=at, from_vitals=False,
        )
        if message := apply_finding(session, finding, state.patient_id, rules):
            messages.append(message)
    return messages


def resolve_stale(state: PatientState, session: SessionState, ts: datetime) -> list[Alert]:
    """Vitals arrived again: the stale-data alert resolves at that reading."""
    current = session.alerts.pop(Condition.STALE_DATA.value, None)
    if current is None:
        return []
    current.status = AlertStatus.RESOLVED
    return [to_message(current, state.patient_id, session.session_id, ts)]
