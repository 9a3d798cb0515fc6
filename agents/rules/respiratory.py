"""Respiratory compromise: breathing symptoms with or without low SpO2 or fast breathing, and the
myasthenia caveat (a breathing-rate rise over baseline)."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.rules.context import RuleContext
from agents.rules.explain import finding
from agents.rules.minute_index import latest_with
from agents.rules.registry import NOTHING, Evaluation, RuleLine, names_text, register, when_text
from agents.rules.session import (
    baseline,
    extreme_together,
    is_high_risk,
    symptoms_together,
)
from models.alerts import Condition
from models.rule_common import Phase
from models.ruleset import RespiratoryRow, RuleSet
from models.state import PatientState, SessionState


def respiratory_compromise(ctx: RuleContext) -> Evaluation:
    """Breathing symptoms with or without low SpO2 / fast breathing, and the myasthenia caveat.

    For a myasthenia patient whose latest breathing rate was read at `ts`, the resolution signal
    says whether its rise over baseline still holds, with the hysteresis margin (no signal without
    such a reading)."""
    state, session, ts, phase, rules = ctx.state, ctx.session, ctx.ts, ctx.phase, ctx.rules
    table = rules.respiratory_compromise
    condition = Condition.RESPIRATORY_COMPROMISE
    names = {r.symptom for r in symptoms_together(session, ts, rules, condition)}
    breathing = sorted(s.value for s in names & table.breathing_symptoms)
    profile = state.profile
    myasthenia = profile is not None and bool(profile.myasthenia_gravis)
    if not breathing and not myasthenia:
        return NOTHING  # the readings count only with a breathing symptom (no window scan)
    spo2 = extreme_together(session, ts, rules, condition, "spo2", lowest=True)
    rate = extreme_together(session, ts, rules, condition, "respiratory_rate", lowest=False)
    values: dict[str, float] = {}
    if spo2 is not None and spo2 <= table.spo2_at_most:
        values["spo2"] = spo2
    if rate is not None and rate >= table.respiratory_rate_at_least:
        values["respiratory_rate"] = rate
    matched: list[tuple[RespiratoryRow, str]] = []
    if breathing and values:
        limits = f"SpO2 <= {table.spo2_at_most:g} or breathing rate >= {table.respiratory_rate_at_least:g}"
        seen = ", ".join(UNIT_LABELS[k].format(v) for k, v in values.items())
        matched.append((table.with_vitals, f"Reported {', '.join(breathing)} with {seen} ({limits})"))
    elif breathing:
        matched.append(
            (
                table.alone,
                f"Reported {', '.join(breathing)}; no SpO2 or breathing rate past the "
                f"limits in the last {rules.timing.together_minutes:g} min",
            )
        )
    holds: bool | None = None
    from_vitals = False
    if myasthenia:
        reasons = sorted(s.value for s in names & table.myasthenia.symptoms)
        rise = _myasthenia_rate_rise(state, session, ts, rules)
        if rise is not None:
            value, why, fires, holds = rise
            if fires:
                values["respiratory_rate"] = value
                from_vitals = not reasons
                reasons.append(why)
        if reasons:
            matched.append((table.myasthenia, "Myasthenia: " + ", ".join(reasons)))
    graded = _severity_phase(session, ts, phase, rules)
    applicable = [(row, why) for row, why in matched if graded in row.severity]
    resolution: dict[Condition, bool] = {} if holds is None else {condition: holds}
    if not applicable:
        return Evaluation(resolution=resolution) if resolution else NOTHING
    top = max(applicable, key=lambda m: m[0].severity[graded].rank)[0]
    found = finding(
        condition,
        top.severity[graded],
        top.id,
        top.title,
        top.action,
        ctx,
        "; ".join(why for _, why in applicable),
        values=values,
        symptoms=sorted(s.value for s in names),
        from_vitals=from_vitals and len(applicable) == 1,
    )
    return Evaluation([found], resolution)


def _severity_phase(session: SessionState, ts: datetime, phase: Phase, rules: RuleSet) -> Phase:
    """The phase whose severity the rows take: post-early's through the rule file's hours after the
    stop (breathing trouble of volume overload comes up to 12 h after it), else the phase itself."""
    hours = rules.respiratory_compromise.post_early_severity_hours
    stop = session.stop_ts
    if phase is not Phase.POST_LATE or hours is None or stop is None or ts - stop > timedelta(hours=hours):
        return phase
    return Phase.POST_EARLY


def respiratory_compromise_lines(rules: RuleSet) -> list[RuleLine]:
    resp = rules.respiratory_compromise
    breathing = names_text(resp.breathing_symptoms)
    lines = []
    for row, trigger in (
        (
            resp.with_vitals,
            f"{breathing} with SpO2 <= {resp.spo2_at_most:g} or rate >= {resp.respiratory_rate_at_least:g}",
        ),
        (resp.alone, f"{breathing} alone"),
        (
            resp.myasthenia,
            f"myasthenia: {names_text(resp.myasthenia.symptoms)}, or breathing rate +"
            f"{resp.myasthenia.respiratory_rate_rise_at_least:g} over baseline",
        ),
    ):
        severity = " / ".join(f"{p.value} {s.value}" for p, s in row.severity.items())
        if resp.post_early_severity_hours is not None and Phase.POST_EARLY in row.severity:
            severity += f" (post-early's to {resp.post_early_severity_hours:g} h after the stop)"
        lines.append(
            RuleLine(
                row.id,
                Condition.RESPIRATORY_COMPROMISE.value,
                trigger,
                severity,
                when_text(list(row.severity)),
                row.source,
            )
        )
    return lines


UNIT_LABELS = {"spo2": "SpO2 {:g}%", "respiratory_rate": "breathing rate {:g}/min"}


def _myasthenia_rate_rise(
    state: PatientState, session: SessionState, ts: datetime, rules: RuleSet
) -> tuple[float, str, bool, bool] | None:
    """(rate, reason, fires, holds) when the latest breathing-rate reading is the one at `ts` and has
    a baseline; `holds` uses the hysteresis margin. The rise limit is baseline-relative, so it is
    tightened for a high-risk patient like every other relative limit."""
    if session.latest_ts.get("respiratory_rate") != ts:
        return None
    base = baseline(session, rules).get("respiratory_rate")
    reading = latest_with(session, "respiratory_rate", ts)
    value = None if reading is None else reading.values["respiratory_rate"]
    if base is None or value is None:
        return None
    factor = rules.risk.relative_limit_factor if is_high_risk(state, rules) else 1.0
    limit = rules.respiratory_compromise.myasthenia.respiratory_rate_rise_at_least * factor
    margin = rules.hysteresis.for_vital("respiratory_rate")
    why = f"breathing rate {value:g}/min, {value - base:+g} over baseline {base:g} (limit +{limit:g})"
    return value, why, value - base >= limit, value - base >= limit - margin


register(
    "respiratory_compromise",
    show_order=50,
    show=respiratory_compromise_lines,
    evaluate=respiratory_compromise,
    evaluate_order=50,
)
