"""Infusion reaction: side-effect symptoms reported together (warning, raised when severe or several,
or with a vital-sign alert open) and red-flag symptoms."""

from __future__ import annotations

from agents.rules import quiet_state
from agents.rules.context import RuleContext
from agents.rules.explain import finding
from agents.rules.registry import NOTHING, Evaluation, RuleLine, names_text, register, when_text
from agents.rules.session import (
    symptoms_together,
)
from models.alerts import Condition
from models.events import SymptomName, SymptomSeverity
from models.ruleset import InfusionReactionRule, RuleSet
from models.state import SessionState, SymptomReport


def _vital_alert_open(session: SessionState) -> bool:
    """Whether an alert raised by vital signs (a threshold row or NEWS2) is open; a hypotension
    alert raised only by a fainting report is not one."""
    return any(alert.raised_by_vitals for alert in session.alerts.values())


def _mild_alone(reports: list[SymptomReport], rule: InfusionReactionRule) -> bool:
    """Every symptom reported together (of any kind) is one the patient manages at home when mild
    (the rule file's `mild_alone`), graded mild and scored at most its limit."""
    mild = rule.mild_alone
    return mild is not None and all(
        r.symptom in mild.symptoms
        and r.severity is SymptomSeverity.MILD
        and (r.score is None or r.score <= mild.score_at_most)
        for r in reports
    )


def infusion_reaction(ctx: RuleContext) -> Evaluation:
    """Side-effect symptoms (warning, raised to urgent when severe or several) and red flags.

    "With a vital-sign alert" looks at the alerts open before this evaluation time's findings are
    applied (the engine evaluates every composite before it applies any finding)."""
    session, ts, rules = ctx.session, ctx.ts, ctx.rules
    rule = rules.infusion_reaction
    if ctx.phase not in rule.phases:
        return NOTHING
    reports = symptoms_together(session, ts, rules, Condition.INFUSION_REACTION)
    side = [r for r in reports if r.symptom in rule.side_effects]
    red = [r for r in reports if r.symptom in rule.red_flags]
    if not side and not red:
        return NOTHING
    names = sorted({r.symptom.value for r in side + red})
    reasons: list[str] = []
    severity = rule.severity
    if any(r.severity is SymptomSeverity.SEVERE or (r.score or 0) >= rule.severe_score for r in side):
        reasons.append(f"severe or scored {rule.severe_score:g}+")
    if len({r.symptom for r in side}) >= rule.together_count:
        reasons.append(f"{len({r.symptom for r in side})} symptoms together")
    if side and (_vital_alert_open(session) or quiet_state.holding(session, ts, rules)):
        reasons.append("with a vital-sign alert")
    if reasons:
        severity = max(severity, rule.raised_severity, key=lambda s: s.rank)
    if red:
        reasons.append("red-flag symptom")
        severity = max(severity, rule.red_flag_severity, key=lambda s: s.rank)
    action = rule.action
    if not red and not reasons and rule.mild_alone is not None and _mild_alone(reports, rule):
        reasons.append("mild and alone: managed at home, not paged")
        severity, action = rule.mild_alone.severity, rule.mild_alone.action or action
    recheck = " Recheck the temperature now." if any(r.symptom is SymptomName.FEVER for r in side) else ""
    summary = f"Reported {', '.join(names)}" + (f" ({'; '.join(reasons)})" if reasons else "")
    found = finding(
        Condition.INFUSION_REACTION,
        severity,
        rule.id,
        rule.title,
        action,
        ctx,
        summary,
        symptoms=names,
        recheck=recheck,
    )
    return Evaluation([found])


def infusion_reaction_lines(rules: RuleSet) -> list[RuleLine]:
    reaction = rules.infusion_reaction
    trigger = (
        f"any of {names_text(reaction.side_effects)}; {reaction.raised_severity.value} if severe, scored "
        f"{reaction.severe_score:g}+, {reaction.together_count}+ together or with a vital-sign alert; "
        f"{reaction.red_flag_severity.value} for {names_text(reaction.red_flags)}"
    )
    if (mild := reaction.mild_alone) is not None:
        trigger += (
            f"; {mild.severity.value} for {names_text(mild.symptoms)} alone, mild and scored at most "
            f"{mild.score_at_most:g}"
        )
    return [
        RuleLine(
            reaction.id,
            Condition.INFUSION_REACTION.value,
            trigger,
            reaction.severity.value,
            when_text(reaction.phases),
            reaction.source,
        )
    ]


register(
    "infusion_reaction",
    show_order=30,
    show=infusion_reaction_lines,
    evaluate=infusion_reaction,
    evaluate_order=30,
)
