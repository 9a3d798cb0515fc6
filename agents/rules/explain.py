"""What every alert says: the evidence behind it and the action in a nurse's words."""

from __future__ import annotations

from datetime import datetime

from agents.rules.context import RuleContext
from agents.rules.lifecycle import Finding
from agents.rules.session import latest_rate_step
from models.alerts import Condition, Evidence, Severity
from models.events import Profile
from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState


def epinephrine_note(profile: Profile | None) -> str:
    if profile is None or profile.epinephrine_available is None:
        return ""
    if profile.epinephrine_available:
        return " (epinephrine is recorded as available at home)"
    return " (NO epinephrine is recorded at home: call emergency services first)"


def evidence(
    session: SessionState,
    ts: datetime,
    phase: Phase,
    rules: RuleSet,
    summary: str,
    values: dict[str, float] | None = None,
    symptoms: list[str] | None = None,
    baseline: dict[str, float] | None = None,
) -> Evidence:
    """Values, baseline and change, phase, rate and minutes since the last rate step.

    `baseline` overrides what each value is compared with (default: the session baseline)."""
    values = values or {}
    reference = session.baseline if baseline is None else baseline
    base = {k: reference[k] for k in values if k in reference}
    change = {k: round(values[k] - base[k], 2) for k in base}
    step = latest_rate_step(session, ts, rules)
    return Evidence(
        summary=summary,
        phase=phase.value,
        values=values,
        baseline=base,
        change=change,
        symptoms=symptoms or [],
        rate_ml_per_h=session.rate_ml_per_h,
        previous_rate_ml_per_h=step.previous_rate_ml_per_h if step else None,
        minutes_since_rate_step=round((ts - step.ts).total_seconds() / 60, 1) if step else None,
        observed_at=ts,
    )


def action_text(
    template: str,
    state: PatientState,
    session: SessionState,
    ts: datetime,
    phase: Phase,
    rules: RuleSet,
    *,
    recheck: str = "",
) -> str:
    """Fill an action template from the rule file with this session's rate history."""
    step = latest_rate_step(session, ts, rules)
    if step is not None:
        minutes = (ts - step.ts).total_seconds() / 60
        advice = (
            f"This follows a rate increase {minutes:.0f} min ago: slow back to the previous rate "
            f"of {step.previous_rate_ml_per_h:g} mL/h and recheck in 15 minutes."
        )
    elif phase is Phase.INFUSING:
        advice = "Slow the infusion (or pause it) and recheck in 15 minutes."
    else:
        advice = "Call the patient and recheck in 15 minutes."
    fields = {
        "rate_advice": advice,
        "rate": f"{session.rate_ml_per_h:g}" if session.rate_ml_per_h is not None else "unknown",
        "previous_rate": f"{step.previous_rate_ml_per_h:g}" if step else "unknown",
        "minutes_since_step": f"{(ts - step.ts).total_seconds() / 60:.0f}" if step else "unknown",
        "recheck": recheck,
        "epinephrine": epinephrine_note(state.profile),
    }
    return " ".join(template.format_map(fields).split())


def finding(
    condition: Condition,
    severity: Severity,
    rule_id: str,
    title: str,
    action: str,
    ctx: RuleContext,
    summary: str,
    *,
    values: dict[str, float] | None = None,
    symptoms: list[str] | None = None,
    recheck: str = "",
    from_vitals: bool = False,
    baseline: dict[str, float] | None = None,
) -> Finding:
    """A finding whose action template is filled and whose evidence is gathered from the session."""
    session, ts, phase, rules = ctx.session, ctx.ts, ctx.phase, ctx.rules
    return Finding(
        condition=condition,
        severity=severity,
        rule_id=rule_id,
        title=title,
        action=action_text(action, ctx.state, session, ts, phase, rules, recheck=recheck),
        evidence=evidence(
            session, ts, phase, rules, summary, values=values, symptoms=symptoms, baseline=baseline
        ),
        ts=ts,
        from_vitals=from_vitals,
    )
