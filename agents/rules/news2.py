"""early_warning_score: NEWS2 from the full set of latest vitals, table-driven from the rule file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Final

from agents.rules.context import RuleContext
from agents.rules.explain import finding
from agents.rules.minute_index import latest_with
from agents.rules.registry import NOTHING, Evaluation, RuleLine, register, when_text
from agents.rules.session import span, symptoms_together
from models.alerts import Condition
from models.rule_news2 import EarlyWarningRule, News2Tier
from models.ruleset import RuleSet
from models.state import SessionState

CONDITION = Condition.EARLY_WARNING_SCORE
CLEARED: Final = Evaluation((), MappingProxyType({CONDITION: False}))
"""A full set was scored and no tier holds: an open alert may start to resolve."""


@dataclass(frozen=True, slots=True)
class News2:
    """A NEWS2 total with its parts; `at` is the time of the newest value in the set."""

    at: datetime
    total: int
    scores: dict[str, int]
    values: dict[str, float]
    on_oxygen: bool
    confused: bool

    def describe(self, rule: EarlyWarningRule) -> str:
        """For example "NEWS2 6: respiratory_rate 22 (2), ..., air (0), alert (0)"."""
        parts = [f"{name} {value:g} ({self.scores[name]})" for name, value in self.values.items()]
        parts.append(f"oxygen ({rule.oxygen_score})" if self.on_oxygen else "air (0)")
        parts.append(f"new confusion ({rule.consciousness_score})" if self.confused else "alert (0)")
        return f"NEWS2 {self.total}: " + ", ".join(parts)


def round_to(value: float, precision: float) -> float:
    """Round half up to a multiple of `precision` (1, or 0.1): 20.5 -> 21, 38.05 -> 38.1."""
    step = Decimal(str(precision))
    return float((Decimal(str(value)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def _latest_values(session: SessionState, names: list[str]) -> dict[str, tuple[datetime, float, bool]]:
    found: dict[str, tuple[datetime, float, bool]] = {}
    for name in names:
        reading = latest_with(session, name)
        if reading is not None:
            found[name] = (reading.ts, reading.values[name], reading.on_oxygen)
    return found


def score(session: SessionState, ts: datetime, rules: RuleSet) -> News2 | None:
    """NEWS2 from the full set around `ts`, or None when some vital of the set is missing or older
    than `full_set_minutes` (its newest value is the evaluation time)."""
    rule = rules.early_warning_score
    names = list(rule.bands)
    latest = _latest_values(session, names)
    if len(latest) < len(names):
        return None
    at = max(max(t for t, _, _ in latest.values()), ts)
    window = span(minutes=rule.full_set_minutes)
    if any(at - t > window for t, _, _ in latest.values()):
        return None
    values = {n: round_to(latest[n][1], rule.precision.get(n, 1)) for n in names}
    scores = {n: rule.score(n, v) for n, v in values.items()}
    on_oxygen = bool(latest.get("spo2", (at, 0.0, False))[2])
    since = at - window
    confused = any(
        s.ts >= since and s.symptom in rule.consciousness_symptoms
        for s in symptoms_together(session, at, rules, CONDITION)
    )
    total = sum(scores.values())
    total += rule.oxygen_score if on_oxygen else 0
    total += rule.consciousness_score if confused else 0
    if confused:
        scores["consciousness"] = rule.consciousness_score
    return News2(at, total, scores, values, on_oxygen, confused)


def _tier(rule: EarlyWarningRule, news: News2) -> News2Tier | None:
    matched = [
        tier
        for tier in rule.tiers
        if (tier.total_at_least is not None and news.total >= tier.total_at_least)
        or (tier.any_parameter_score is not None and tier.any_parameter_score in news.scores.values())
    ]
    return max(matched, key=lambda t: t.severity.rank, default=None)


def early_warning_score(ctx: RuleContext) -> Evaluation:
    """The worst NEWS2 tier that holds; a full set scored with no tier holding clears the condition."""
    session, ts, rules = ctx.session, ctx.ts, ctx.rules
    rule = rules.early_warning_score
    news = score(session, ts, rules) if ctx.phase in rule.phases else None
    resolved = session.resolved_ts.get(CONDITION.value)
    if news is None or (resolved is not None and news.at <= resolved):
        return NOTHING
    tier = _tier(rule, news)
    if tier is None:
        return CLEARED
    if tier.total_at_least is not None:
        limit = f"total >= {tier.total_at_least}"
    else:
        limit = f"a single parameter scoring {tier.any_parameter_score}"
    found = finding(
        CONDITION,
        tier.severity,
        tier.id,
        tier.title,
        tier.action,
        ctx,
        f"{news.describe(rule)}; limit {limit} ({tier.id})",
        values=news.values,
        symptoms=sorted(rule.consciousness_symptoms) if news.confused else None,
        from_vitals=not news.confused,
    )
    return Evaluation([found])


def show(rules: RuleSet) -> list[RuleLine]:
    news = rules.early_warning_score
    return [
        RuleLine(
            tier.id,
            CONDITION.value,
            f"NEWS2 total >= {tier.total_at_least}"
            if tier.total_at_least is not None
            else f"any NEWS2 parameter scoring {tier.any_parameter_score}",
            tier.severity.value,
            when_text(news.phases),
            tier.source,
        )
        for tier in news.tiers
    ]


register("early_warning_score", show_order=20, show=show, evaluate=early_warning_score, evaluate_order=10)
