"""Anaphylaxis: NIAID/FAAN and WAO criteria over the symptoms and readings reported together."""

from __future__ import annotations

from datetime import datetime

from agents.rules.context import RuleContext
from agents.rules.episodes import last_met
from agents.rules.explain import finding
from agents.rules.registry import NOTHING, Evaluation, RuleLine, names_text, register, when_text
from agents.rules.session import (
    effective_stop,
    extreme_together,
    fired_together,
    span,
    symptoms_together,
)
from models.alerts import Condition
from models.ruleset import AnaphylaxisRule, Phase, RuleSet
from models.state import SessionState


def _in_window(rule: AnaphylaxisRule, session: SessionState, ts: datetime, rules: RuleSet) -> bool:
    """Before the row's `until_hours_after_stop` (the biphasic window), when it has one."""
    if rule.until_hours_after_stop is None:
        return True
    stop = effective_stop(session, rules)
    return stop is None or ts < stop + span(hours=rule.until_hours_after_stop)


def _earlier_episode(rule: AnaphylaxisRule, session: SessionState, ts: datetime) -> datetime | None:
    """When the open alert's criteria were last met, if that was more than `new_episode_after_hours`
    before `ts`: the alert belongs to an earlier episode (None: no open alert, or the same episode)."""
    current = session.alerts.get(Condition.ANAPHYLAXIS.value)
    if current is None or rule.new_episode_after_hours is None:
        return None
    last = last_met(session, rule.id, current)
    return last if ts - last > span(hours=rule.new_episode_after_hours) else None


def anaphylaxis(ctx: RuleContext) -> Evaluation:
    """NIAID/FAAN and WAO criteria over the symptoms and readings reported together; criteria met
    again after the row's episode gap are a new episode (biphasic), a new alert."""
    session, ts, rules = ctx.session, ctx.ts, ctx.rules
    rule = rules.anaphylaxis
    if ctx.phase not in rule.phases or not _in_window(rule, session, ts, rules):
        return NOTHING
    condition = Condition.ANAPHYLAXIS
    names = {r.symptom for r in symptoms_together(session, ts, rules, condition)}
    low_pressure = any(
        fired_together(session, row_id, ts, rules, condition) for row_id in rule.low_pressure_rules
    )
    if not names and not low_pressure:
        return NOTHING  # a low SpO2 alone meets no criterion (on almost every reading: no window scan)
    lowest = extreme_together(session, ts, rules, condition, "spo2", lowest=True)
    low_spo2 = lowest if lowest is not None and lowest <= rule.breathing_spo2_at_most else None
    skin = names & rule.skin
    breathing = bool(names & rule.breathing) or low_spo2 is not None
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
    values = {} if low_spo2 is None else {"spo2": low_spo2}
    if low_pressure:  # the reading behind it, so the nurse sees it and a lone one waits for its repeat
        systolic = extreme_together(session, ts, rules, condition, "systolic_bp", lowest=True)
        if systolic is not None:
            values["systolic_bp"] = systolic
    summary = f"Anaphylaxis criteria met: {why}"
    earlier = _earlier_episode(rule, session, ts)
    if earlier is not None:
        hours = (ts - earlier).total_seconds() / 3600
        summary += f"; a new episode, {hours:.1f} h after they were last met"
        if ctx.phase in (Phase.POST_EARLY, Phase.POST_LATE):
            summary += " (possible biphasic reaction)"
    found = finding(
        Condition.ANAPHYLAXIS,
        rule.severity,
        rule.id,
        rule.title,
        rule.action,
        ctx,
        summary,
        values=values,
        symptoms=sorted(s.value for s in names),
    )
    if earlier is None:
        return Evaluation([found])
    return Evaluation([found], new_episode={Condition.ANAPHYLAXIS: earlier})


def anaphylaxis_lines(rules: RuleSet) -> list[RuleLine]:
    ana = rules.anaphylaxis
    trigger = (
        f"skin ({names_text(ana.skin)}) with breathing ({names_text(ana.breathing)}, SpO2 <= "
        f"{ana.breathing_spo2_at_most:g}), low pressure or {names_text(ana.neuro)}; or two systems incl. "
        f"GI ({names_text(ana.gastro)}); or low pressure alone; or {names_text(ana.alone)} alone"
    )
    if ana.new_episode_after_hours is not None:
        trigger += f"; met again > {ana.new_episode_after_hours:g} h after last met: a new alert"
    when = when_text(ana.phases)
    if ana.until_hours_after_stop is not None:
        when += f" (to {ana.until_hours_after_stop:g} h after stop)"
    return [
        RuleLine(
            ana.id,
            Condition.ANAPHYLAXIS.value,
            trigger,
            ana.severity.value,
            when,
            ana.source,
        )
    ]


register("anaphylaxis", show_order=40, show=anaphylaxis_lines, evaluate=anaphylaxis, evaluate_order=40)
