"""Anaphylaxis: NIAID/FAAN and WAO criteria over the symptoms and readings reported together."""

from __future__ import annotations

from agents.rules.context import RuleContext
from agents.rules.explain import finding
from agents.rules.registry import NOTHING, Evaluation, RuleLine, names_text, register, when_text
from agents.rules.session import (
    fired_together,
    readings_together,
    symptoms_together,
)
from models.alerts import Condition
from models.ruleset import RuleSet


def anaphylaxis(ctx: RuleContext) -> Evaluation:
    """NIAID/FAAN and WAO criteria over the symptoms and readings reported together."""
    session, ts, rules = ctx.session, ctx.ts, ctx.rules
    rule = rules.anaphylaxis
    if ctx.phase not in rule.phases:
        return NOTHING
    condition = Condition.ANAPHYLAXIS
    names = {r.symptom for r in symptoms_together(session, ts, rules, condition)}
    low_spo2 = [
        r.values["spo2"]
        for r in readings_together(session, ts, rules, condition)
        if r.values.get("spo2", 101) <= rule.breathing_spo2_at_most
    ]
    skin = names & rule.skin
    breathing = bool(names & rule.breathing) or bool(low_spo2)
    low_pressure = any(
        fired_together(session, row_id, ts, rules, condition) for row_id in rule.low_pressure_rules
    )
    neuro = names & rule.neuro
    gastro = names & rule.gastro
    systems = {
        "skin": bool(skin),
        "breathing": breathing,
        "low blood pressure": low_pressure,
        "gastrointestinal": bool(gastro),
    }
    met = [name for name, present in systems.items() if present]
    if skin and (breathing or low_pressure or neuro):
        why = "skin/mucosal sign with " + ", ".join(
            n
            for n, p in (
                ("breathing", breathing),
                ("low blood pressure", low_pressure),
                ("fainting/confusion", bool(neuro)),
            )
            if p
        )
    elif len(met) >= 2:
        why = "two systems together: " + ", ".join(met)
    elif low_pressure:
        why = "low blood pressure"
    elif names & rule.alone:
        why = ", ".join(sorted(s.value for s in names & rule.alone))
    else:
        return NOTHING
    values = {"spo2": min(low_spo2)} if low_spo2 else {}
    found = finding(
        Condition.ANAPHYLAXIS,
        rule.severity,
        rule.id,
        rule.title,
        rule.action,
        ctx,
        f"Anaphylaxis criteria met: {why}",
        values=values,
        symptoms=sorted(s.value for s in names),
    )
    return Evaluation([found])


def anaphylaxis_lines(rules: RuleSet) -> list[RuleLine]:
    ana = rules.anaphylaxis
    trigger = (
        f"skin ({names_text(ana.skin)}) with breathing ({names_text(ana.breathing)}, SpO2 <= "
        f"{ana.breathing_spo2_at_most:g}), low pressure or {names_text(ana.neuro)}; or two systems incl. "
        f"GI ({names_text(ana.gastro)}); or low pressure alone; or {names_text(ana.alone)} alone"
    )
    return [
        RuleLine(
            ana.id,
            Condition.ANAPHYLAXIS.value,
            trigger,
            ana.severity.value,
            when_text(ana.phases),
            ana.source,
        )
    ]


register("anaphylaxis", show_order=40, show=anaphylaxis_lines, evaluate=anaphylaxis, evaluate_order=40)
