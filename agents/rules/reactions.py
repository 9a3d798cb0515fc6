"""Reactions built from symptoms and readings reported together: infusion reaction, anaphylaxis."""

from __future__ import annotations

from datetime import datetime, timedelta

from agents.rules.explain import action_text, evidence
from agents.rules.lifecycle import Finding
from agents.rules.session import readings_together, symptoms_together
from models.alerts import Condition
from models.events import SymptomName, SymptomSeverity
from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState


def infusion_reaction(
    state: PatientState, session: SessionState, ts: datetime, phase: Phase, rules: RuleSet,
    vital_alert_open: bool,
) -> Finding | None:
    """Side-effect symptoms (warning, raised to urgent when severe or several) and red flags."""
    rule = rules.infusion_reaction
    if phase not in rule.phases:
        return None
    reports = symptoms_together(session, ts, rules)
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
    recheck = (
        " Recheck the temperature now."
        if any(r.symptom is SymptomName.FEVER for r in side) else ""
    )
    summary = f"Reported {', '.join(names)}" + (f" ({'; '.join(reasons)})" if reasons else "")
    return Finding(
        condition=Condition.INFUSION_REACTION, severity=severity, rule_id=rule.id,
        title=rule.title,
        action=action_text(rule.action, state, session, ts, phase, rules, recheck=recheck),
        evidence=evidence(session, ts, phase, rules, summary, symptoms=names),
        ts=ts, from_vitals=False,
    )


def anaphylaxis(
    state: PatientState, session: SessionState, ts: datetime, phase: Phase, rules: RuleSet
) -> Finding | None:
    """NIAID/FAAN and WAO criteria over the symptoms and readings reported together."""
    rule = rules.anaphylaxis
    if phase not in rule.phases:
        return None
    names = {r.symptom for r in symptoms_together(session, ts, rules)}
    window = timedelta(minutes=rules.timing.together_minutes)
    low_spo2 = [
        r.values["spo2"] for r in readings_together(session, ts, rules)
        if r.values.get("spo2", 101) <= rule.breathing_spo2_at_most
    ]
    skin = names & rule.skin
    breathing = bool(names & rule.breathing) or bool(low_spo2)
    low_pressure = any(
        (fired := session.row_last_fired.get(row_id)) is not None and ts - window <= fired <= ts
        for row_id in rule.low_pressure_rules
    )
    neuro = names & rule.neuro
    gastro = names & rule.gastro
    systems = {"skin": bool(skin), "breathing": breathing, "low blood pressure": low_pressure,
               "gastrointestinal": bool(gastro)}
    met = [name for name, present in systems.items() if present]
    if skin and (breathing or low_pressure or neuro):
        why = "skin/mucosal sign with " + ", ".join(
            n for n, p in (("breathing", breathing), ("low blood pressure", low_pressure),
                           ("fainting/confusion", bool(neuro))) if p
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
    return Finding(
        condition=Condition.ANAPHYLAXIS, severity=rule.severity, rule_id=rule.id,
        title=rule.title,
        action=action_text(rule.action, state, session, ts, phase, rules),
        evidence=evidence(session, ts, phase, rules, f"Anaphylaxis criteria met: {why}",
                          values=values, symptoms=sorted(s.value for s in names)),
        ts=ts, from_vitals=False,
    )

