"""Symptom rows: reported symptoms (one from each group, together) raise a condition, for example
aseptic meningitis, thrombosis, renal injury, hemolysis and fainting.

Each report counts only if it was itself made within the row's phases: symptoms reported while
infusing do not become aseptic meningitis at the stop."""

from __future__ import annotations

from datetime import datetime

from agents.rules.context import RuleContext
from agents.rules.explain import finding
from agents.rules.lifecycle import Finding
from agents.rules.registry import NOTHING, Evaluation, RuleLine, register, when_text
from agents.rules.session import effective_stop, extreme_together, phase_at, span, symptoms_together
from models.events import SymptomSeverity
from models.ruleset import RuleSet, SymptomRule
from models.state import SessionState, SymptomReport


def _in_window(rule: SymptomRule, session: SessionState, ts: datetime, rules: RuleSet) -> bool:
    """Whether `ts` lies in the row's phases (and before its `until_hours_after_stop`)."""
    if phase_at(session, ts, rules) not in rule.phases:
        return False
    if rule.until_hours_after_stop is None:
        return True
    stop = effective_stop(session, rules)
    return stop is not None and ts < stop + span(hours=rule.until_hours_after_stop)


def _is_severe(report: SymptomReport, rule: SymptomRule) -> bool:
    if report.severity is SymptomSeverity.SEVERE:
        return True
    return rule.severe_score is not None and report.score is not None and report.score >= rule.severe_score


def _matched(rule: SymptomRule, reports: list[SymptomReport]) -> list[SymptomReport] | None:
    """One report per group of `all_of` (the latest that qualifies), or None when a group has none."""
    chosen: list[SymptomReport] = []
    for group in rule.all_of:
        report = next(
            (
                r
                for r in reversed(reports)
                if r.symptom in group.any_of and (not group.severe or _is_severe(r, rule))
            ),
            None,
        )
        if report is None:
            return None
        chosen.append(report)
    return chosen


def _evaluate(rule: SymptomRule, ctx: RuleContext) -> Finding | None:
    session, ts, rules = ctx.session, ctx.ts, ctx.rules
    if ctx.phase not in rule.phases or not _in_window(rule, session, ts, rules):
        return None  # `phase` is the phase at `ts`: most rows end here without a lookup
    if rule.all_of and not session.symptoms:
        return None  # no report at all: no group can be matched
    reports = [
        r
        for r in symptoms_together(session, ts, rules, rule.condition)
        if _in_window(rule, session, r.ts, rules)
    ]
    matched = _matched(rule, reports)
    if matched is None:
        return None
    names = sorted({r.symptom.value for r in matched})
    described = ", ".join(
        f"{r.symptom.value} ({r.severity.value}" + (f", score {r.score:g})" if r.score is not None else ")")
        for r in matched
    )
    summary = f"Reported {described}"
    severity, values = rule.severity, {}
    clause = rule.raised_with
    if clause is not None and rule.raised_severity is not None:
        lowest = clause.below is not None or clause.at_most is not None
        worst = extreme_together(session, ts, rules, rule.condition, clause.vital, lowest=lowest)
        if worst is not None and clause.holds(worst):
            severity, values = rule.raised_severity, {clause.vital: worst}
            summary += f" with {clause.vital} {worst:g} ({clause.describe()})"
    stop = effective_stop(session, rules)
    if stop is not None and ts >= stop:
        summary += f", {(ts - stop).total_seconds() / 3600:.1f} h after the infusion ended"
    return finding(
        rule.condition,
        severity,
        rule.id,
        rule.title,
        rule.action,
        ctx,
        summary,
        values=values,
        symptoms=names,
    )


def symptom_findings(ctx: RuleContext) -> Evaluation:
    """The worst finding of each condition the symptom rows raise at `ts`."""
    worst: dict[str, Finding] = {}
    for rule in ctx.rules.symptom_rule:
        found = _evaluate(rule, ctx)
        if found is None:
            continue
        current = worst.get(found.condition.value)
        if current is None or found.severity.rank > current.severity.rank:
            worst[found.condition.value] = found
    return Evaluation(list(worst.values())) if worst else NOTHING


def show(rules: RuleSet) -> list[RuleLine]:
    lines = []
    for symptom_row in rules.symptom_rule:
        groups = " with ".join(
            ("severe " if g.severe else "") + " or ".join(sorted(g.any_of)) for g in symptom_row.all_of
        )
        trigger = f"reported {groups}"
        if symptom_row.raised_with is not None and symptom_row.raised_severity is not None:
            trigger += f"; {symptom_row.raised_severity.value} with {symptom_row.raised_with.describe()}"
        when = when_text(symptom_row.phases)
        if symptom_row.until_hours_after_stop is not None:
            when += f" (to {symptom_row.until_hours_after_stop:g} h after stop)"
        lines.append(
            RuleLine(
                symptom_row.id,
                symptom_row.condition.value,
                trigger,
                symptom_row.severity.value,
                when,
                symptom_row.source,
            )
        )
    return lines


register("symptom_rule", show_order=60, show=show, evaluate=symptom_findings, evaluate_order=20)
