"""high_risk_session: the profile's risk factors and the reasons not to start, at a session's start."""

from __future__ import annotations

from datetime import datetime

from agents.rules.explain import epinephrine_note, evidence
from agents.rules.lifecycle import Finding
from agents.rules.registry import RuleLine, names_text, register
from agents.rules.session import baseline, is_high_risk, phase_at
from models.alerts import Condition
from models.ruleset import HighRiskRow, Phase, RuleSet
from models.state import PatientState, SessionState

RISK_FACTORS = "risk_factors"
NO_EPINEPHRINE = "no_epinephrine"
BASELINE_FEVER = "baseline_fever"
TEMPERATURE = "temperature_c"


def at_event(
    state: PatientState, session: SessionState, ts: datetime, is_start: bool, rules: RuleSet
) -> Finding | None:
    """Checks at a session event up to and including its start (normally the session's first event):
    risk factors on the profile (info, limits tightened), no epinephrine at home (do not start), and,
    at the start, a baseline temperature already known from the readings before it."""
    if session.start_ts is not None and ts > session.start_ts:
        return None
    profile = state.profile
    found: list[str] = []
    if RISK_FACTORS not in session.high_risk_checks and is_high_risk(state, rules):
        found.append(RISK_FACTORS)
    if (
        NO_EPINEPHRINE not in session.high_risk_checks
        and profile is not None
        and profile.epinephrine_available is False
    ):
        found.append(NO_EPINEPHRINE)
    temperature = baseline(session, rules).get(TEMPERATURE) if is_start else None
    if temperature is not None and BASELINE_FEVER not in session.high_risk_checks:
        session.high_risk_checks.append(BASELINE_FEVER)
        if temperature >= rules.high_risk_session.baseline_fever.temperature_at_least:
            found.append(BASELINE_FEVER)
    return _finding(state, session, ts, found, temperature, rules)


def at_baseline_frozen(
    state: PatientState, session: SessionState, at: datetime, rules: RuleSet
) -> Finding | None:
    """Once the baseline is final (`baseline_post_start_minutes` after the start): a baseline
    temperature at or over the limit, if it was not known at the start, says stop."""
    if BASELINE_FEVER in session.high_risk_checks:
        return None
    session.high_risk_checks.append(BASELINE_FEVER)
    temperature = session.baseline.get(TEMPERATURE)
    if temperature is None or phase_at(session, at, rules) is not Phase.INFUSING:
        return None
    if temperature < rules.high_risk_session.baseline_fever.temperature_at_least:
        return None
    return _finding(state, session, at, [BASELINE_FEVER], temperature, rules)


def _finding(
    state: PatientState,
    session: SessionState,
    ts: datetime,
    found: list[str],
    temperature: float | None,
    rules: RuleSet,
) -> Finding | None:
    if not found:
        return None
    session.high_risk_checks.extend(k for k in found if k not in session.high_risk_checks)
    table = rules.high_risk_session
    rows: dict[str, HighRiskRow] = {
        RISK_FACTORS: table.tightened,
        NO_EPINEPHRINE: table.no_epinephrine,
        BASELINE_FEVER: table.baseline_fever,
    }
    row = max((rows[k] for k in found), key=lambda r: r.severity.rank)
    fields = _fields(state, temperature, rules)
    summary = ". ".join(_SUMMARY[key].format_map(fields) for key in found)
    values = {TEMPERATURE: temperature} if BASELINE_FEVER in found and temperature is not None else None
    phase = phase_at(session, ts, rules)
    return Finding(
        condition=Condition.HIGH_RISK_SESSION,
        severity=row.severity,
        rule_id=row.id,
        title=" ".join(row.title.format_map(fields).split()),
        action=" ".join(row.action.format_map(fields).split()),
        evidence=evidence(session, ts, phase, rules, summary, values=values),
        ts=ts,
        from_vitals=False,
    )


_SUMMARY = {
    RISK_FACTORS: "Risk factors: {risk_factors}; for this session baseline-relative limits "
    "x{relative_factor} and the care schedule's graces x{stale_factor}",
    NO_EPINEPHRINE: "No epinephrine recorded at home",
    BASELINE_FEVER: "Baseline temperature {temperature} C (limit {fever_limit} C)",
}


def _fields(state: PatientState, temperature: float | None, rules: RuleSet) -> dict[str, str]:
    profile = state.profile
    factors = sorted(
        f.value for f in (profile.risk_factors if profile else []) if f in rules.risk.tightening_factors
    )
    stale = rules.risk.stale_limit_factor
    graces = sorted({row.grace_minutes * stale for row in rules.care_schedule.sets if row.tightened})
    return {
        "risk_factors": ", ".join(factors) or "none",
        "relative_factor": f"{rules.risk.relative_limit_factor:g}",
        "stale_factor": f"{stale:g}",
        "grace_minutes": " / ".join(f"{g:g}" for g in graces) or "unchanged",
        "temperature": f"{temperature:g}" if temperature is not None else "unknown",
        "fever_limit": f"{rules.high_risk_session.baseline_fever.temperature_at_least:g}",
        "epinephrine": epinephrine_note(profile),
    }


def show(rules: RuleSet) -> list[RuleLine]:
    high, risk = rules.high_risk_session, rules.risk
    condition = Condition.HIGH_RISK_SESSION.value
    return [
        RuleLine(
            high.tightened.id,
            condition,
            f"profile risk factor ({names_text(risk.tightening_factors)}): relative limits x"
            f"{risk.relative_limit_factor:g}, care-schedule graces x{risk.stale_limit_factor:g}",
            high.tightened.severity.value,
            "pre, or start",
            high.tightened.source,
        ),
        RuleLine(
            high.no_epinephrine.id,
            condition,
            "epinephrine_available false: do not start",
            high.no_epinephrine.severity.value,
            "pre, or start",
            high.no_epinephrine.source,
        ),
        RuleLine(
            high.baseline_fever.id,
            condition,
            f"baseline temperature >= {high.baseline_fever.temperature_at_least:g}: do not start",
            high.baseline_fever.severity.value,
            "pre, or start",
            high.baseline_fever.source,
        ),
    ]


register("high_risk_session", show_order=90, show=show)
