"""Single-vital rules, absolute and baseline-relative, with hysteresis for clearing."""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.registry import RuleLine, register, when_text
from models.ruleset import Phase, RuleSet, ThresholdRule


@dataclass(frozen=True, slots=True)
class RowResult:
    """A row evaluated on one value: `fires` with the limits as written; `holds` with the
    limits relaxed by the hysteresis margin (an open alert clears only once `holds` is false)."""

    rule: ThresholdRule
    value: float
    baseline: float | None
    fires: bool
    holds: bool


def _clauses_hold(
    rule: ThresholdRule, value: float, base: float | None, margin: float, relative_factor: float
) -> bool:
    """All clauses of the row hold; `margin` relaxes each limit toward 'still true'.

    Returns at the first clause that fails (the hot path of every reading: no list is built)."""
    if rule.baseline_missing and base is not None:
        return False
    if rule.at_least is not None and not value >= rule.at_least - margin:
        return False
    if rule.above is not None and not value > rule.above - margin:
        return False
    if rule.at_most is not None and not value <= rule.at_most + margin:
        return False
    if rule.below is not None and not value < rule.below + margin:
        return False
    if rule.rise_at_least is not None or rule.fall_at_least is not None or rule.fall_pct_over is not None:
        if base is None:
            return False
        rise, fall = rule.rise_at_least, rule.fall_at_least
        if rise is not None and not value - base >= rise * relative_factor - margin:
            return False
        if fall is not None and not base - value >= fall * relative_factor - margin:
            return False
        if rule.fall_pct_over is not None:
            fall_pct = (base - value) / base * 100 if base > 0 else 0.0
            if not fall_pct > rule.fall_pct_over * relative_factor - margin:
                return False
    if rule.has_baseline_gate:
        if base is None:
            return rule.or_baseline_missing
        if rule.baseline_at_least is not None and not base >= rule.baseline_at_least:
            return False
        if rule.baseline_above is not None and not base > rule.baseline_above:
            return False
        if rule.baseline_below is not None and not base < rule.baseline_below:
            return False
    return True


def evaluate_row(
    rule: ThresholdRule,
    value: float,
    base: float | None,
    phase: Phase,
    *,
    margin: float,
    relative_factor: float = 1.0,
) -> RowResult:
    """Evaluate one threshold row for a value in a phase (outside its phases it neither fires nor holds)."""
    if phase not in rule.phases:
        return RowResult(rule, value, base, fires=False, holds=False)
    fires = _clauses_hold(rule, value, base, 0.0, relative_factor)
    holds = fires or _clauses_hold(rule, value, base, margin, relative_factor)
    return RowResult(rule, value, base, fires=fires, holds=holds)


def fired_before_start(rules: RuleSet, vital: str, lowest: float, highest: float) -> bool:
    """Whether a reading from `lowest` to `highest` of `vital` before the start fires one of its
    `baseline_before_start` rows (judged there without a baseline): a baseline holding it is unfit
    for those rows."""
    return any(
        evaluate_row(rule, value, None, Phase.PRE, margin=0.0).fires
        for rule in rules.rows_by_vital.get(vital, ())
        if rule.baseline_before_start
        for value in (lowest, highest)
    )


def limits_text(rule: ThresholdRule, factor: float = 1.0) -> str:
    """The row's clauses in words, relative limits multiplied by `factor`: ">= 38 and rise >= 1"."""
    parts = [
        f"{op} {getattr(rule, key):g}"
        for key, op in (("at_least", ">="), ("above", ">"), ("at_most", "<="), ("below", "<"))
        if getattr(rule, key) is not None
    ]
    over = f" over {rule.window_hours:g} h" if rule.window_hours is not None else ""
    parts += [
        f"{op} {getattr(rule, key) * factor:g}{over}"
        for key, op in (
            ("rise_at_least", "rise >="),
            ("fall_at_least", "fall >="),
            ("fall_pct_over", "fall % >"),
        )
        if getattr(rule, key) is not None
    ]
    base = "baseline before the start" if rule.baseline_before_start else "baseline"
    missing = (
        (", or none" if rule.baseline_before_start else " or missing") if rule.or_baseline_missing else ""
    )
    for key, op in (("baseline_at_least", ">="), ("baseline_above", ">"), ("baseline_below", "<")):
        if getattr(rule, key) is not None:
            parts.append(f"{base} {op} {getattr(rule, key):g}{missing}")
    if rule.baseline_missing:
        parts.append("no baseline before the start" if rule.baseline_before_start else "no baseline")
    return " and ".join(parts)


def show(rules: RuleSet) -> list[RuleLine]:
    return [
        RuleLine(
            r.id,
            r.condition.value,
            f"{r.vital} {limits_text(r)}",
            r.severity.value,
            when_text(r.phases),
            r.source,
        )
        for r in rules.threshold
    ]


register("threshold", show_order=10, show=show)
