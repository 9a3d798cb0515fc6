"""Reactions built from symptoms and readings reported together: infusion reaction, anaphylaxis,
respiratory compromise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.rules.explain import finding
from agents.rules.lifecycle import Finding
from agents.rules.session import (
    baseline,
    fired_together,
    is_high_risk,
    readings_together,
    symptoms_together,
)
from models.alerts import Condition
from models.events import SymptomName, SymptomSeverity
from models.ruleset import Phase, RespiratoryRow, RuleSet
from models.state import PatientState, SessionState


def infusion_reaction(
    state: PatientState,
    session: SessionState,
    ts: datetime,
    phase: Phase,
    rules: RuleSet,
    vital_alert_open: bool,
) -> Finding | None:
    """Side-effect symptoms (warning, raised to urgent when severe or several) and red flags."""
    rule = rules.infusion_reaction
    if phase not in rule.phases:
        return None
    reports = symptoms_together(session, ts, rules, Condition.INFUSION_REACTION)
    side = [r for r in reports if r.symptom in rule.side_effects]
    red = [r for r in reports if r.symptom in rule.red_flags]
    if not side and not red:
        return None
    names = sorted({r.symptom.value for r in side + red})
    reasons: list[str] = []
    severity = rule.severity
    if any(r.severity is SymptomSeverity.SEVERE or (r.score or 0) >= rule.severe_score for r in side):
        reasons.append(f"severe or scored {rule.severe_score:g}+")
    if len({r.symptom for r in side}) >= rule.together_count:
        reasons.append(f"{len({r.symptom for r in side})} symptoms together")
    if side and vital_alert_open:
        reasons.append("with a vital-sign alert")
    if reasons:
        severity = max(severity, rule.raised_severity, key=lambda s: s.rank)
    if red:
        reasons.append("red-flag symptom")
        severity = max(severity, rule.red_flag_severity, key=lambda s: s.rank)
    recheck = " Recheck the temperature now." if any(r.symptom is SymptomName.FEVER for r in side) else ""
    summary = f"Reported {', '.join(names)}" + (f" ({'; '.join(reasons)})" if reasons else "")
    context = (state, session, ts, phase, rules)
    return finding(
        Condition.INFUSION_REACTION,
        severity,
        rule.id,
        rule.title,
        rule.action,
        context,
        summary,
        symptoms=names,
        recheck=recheck,
    )


def anaphylaxis(
    state: PatientState, session: SessionState, ts: datetime, phase: Phase, rules: RuleSet
) -> Finding | None:
    """NIAID/FAAN and WAO criteria over the symptoms and readings reported together."""
    rule = rules.anaphylaxis
    if phase not in rule.phases:
        return None
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
        return None
    values = {"spo2": min(low_spo2)} if low_spo2 else {}
    context = (state, session, ts, phase, rules)
    return finding(
        Condition.ANAPHYLAXIS,
        rule.severity,
        rule.id,
        rule.title,
        rule.action,
        context,
        f"Anaphylaxis criteria met: {why}",
        values=values,
        symptoms=sorted(s.value for s in names),
    )


@dataclass(frozen=True, slots=True)
class Respiratory:
    finding: Finding | None
    rate_rise_holds: bool | None
    """For a myasthenia patient whose latest breathing rate was read at `ts`: whether its rise over
    baseline still holds, with the hysteresis margin (None: no such reading)."""


def respiratory_compromise(
    state: PatientState, session: SessionState, ts: datetime, phase: Phase, rules: RuleSet
) -> Respiratory:
    """Breathing symptoms with or without low SpO2 / fast breathing, and the myasthenia caveat."""
    table = rules.respiratory_compromise
    condition = Condition.RESPIRATORY_COMPROMISE
    names = {r.symptom for r in symptoms_together(session, ts, rules, condition)}
    breathing = sorted(s.value for s in names & table.breathing_symptoms)
    readings = readings_together(session, ts, rules, condition)
    spo2 = min((r.values["spo2"] for r in readings if "spo2" in r.values), default=None)
    rate = max(
        (r.values["respiratory_rate"] for r in readings if "respiratory_rate" in r.values), default=None
    )
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
    profile = state.profile
    if profile is not None and profile.myasthenia_gravis:
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
    applicable = [(row, why) for row, why in matched if phase in row.severity]
    if not applicable:
        return Respiratory(None, holds)
    top = max(applicable, key=lambda m: m[0].severity[phase].rank)[0]
    return Respiratory(
        finding(
            Condition.RESPIRATORY_COMPROMISE,
            top.severity[phase],
            top.id,
            top.title,
            top.action,
            (state, session, ts, phase, rules),
            "; ".join(why for _, why in applicable),
            values=values,
            symptoms=sorted(s.value for s in names),
            from_vitals=from_vitals and len(applicable) == 1,
        ),
        holds,
    )


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
    value = next(
        (
            r.values["respiratory_rate"]
            for r in reversed(session.readings)
            if r.ts == ts and "respiratory_rate" in r.values
        ),
        None,
    )
    if base is None or value is None:
        return None
    factor = rules.risk.relative_limit_factor if is_high_risk(state, rules) else 1.0
    limit = rules.respiratory_compromise.myasthenia.respiratory_rate_rise_at_least * factor
    margin = rules.hysteresis.for_vital("respiratory_rate")
    why = f"breathing rate {value:g}/min, {value - base:+g} over baseline {base:g} (limit +{limit:g})"
    return value, why, value - base >= limit, value - base >= limit - margin
