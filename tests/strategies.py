"""Hypothesis strategies: realistic but random replay files (contract v1 events and nurse actions).

A file holds one to three patients, each with one or two infusion sessions a day apart: a profile
(random risk factors, epinephrine, myasthenia), readings before the start, the start, then a random
mix of vitals, symptoms, pump events and nurse actions on likely alert ids, and maybe a stop. Gaps
between steps run from a minute to hours, so every phase and the stale-data timer are reached. On top:
resends of events with an `event_id`, and timestamps moved a few minutes against the file order.
Vitals stay inside the contract's accepted ranges (diastolic below systolic), biased toward the
normal and the alarming bands so that alerts open, rise, escalate and resolve. Last, nurses answer
some of the alerts the file raises (replayed once under the default rules), minutes after they fire.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from agents.rules.loader import load_rules
from models.alerts import Alert, AlertStatus, Condition
from models.events import VITAL_RANGES, InfusionAction, RiskFactor, SymptomName, SymptomSeverity
from streams.apps.replay import replay

RULES = load_rules()

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
"""Minute 0 of every generated file."""

Item = dict[str, Any]

NORMAL: dict[str, tuple[float, float]] = {
    "heart_rate": (55, 100),
    "systolic_bp": (105, 150),
    "diastolic_bp": (60, 90),
    "temperature_c": (36.0, 37.4),
    "respiratory_rate": (12, 20),
    "spo2": (95, 100),
    "weight_kg": (60, 64),
}
ALARMING: dict[str, tuple[float, float]] = {
    "heart_rate": (35, 150),
    "systolic_bp": (75, 230),
    "diastolic_bp": (40, 110),
    "temperature_c": (37.5, 40.0),
    "respiratory_rate": (6, 30),
    "spo2": (85, 96),
    "weight_kg": (58, 68),
}
DECIMAL = frozenset({"temperature_c", "weight_kg"})
ALERT_CONDITIONS = [c for c in Condition if c is not Condition.PIPELINE_STALLED]
LIKELY_CONDITIONS = [
    Condition.FEVER,
    Condition.TACHYCARDIA,
    Condition.HYPOTENSION,
    Condition.HYPERTENSION,
    Condition.HYPOXEMIA,
    Condition.TACHYPNEA,
    Condition.EARLY_WARNING_SCORE,
    Condition.STALE_DATA,
    Condition.INFUSION_REACTION,
    Condition.HIGH_RISK_SESSION,
]
"""The conditions generated files raise most: nurse actions mostly name one of these."""


def ts(minutes: float) -> str:
    """RFC 3339 (with `Z`) of `minutes` after START, to the second."""
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _band(name: str, low: float, high: float) -> st.SearchStrategy[float]:
    if name in DECIMAL:
        return st.integers(round(low * 10), round(high * 10)).map(lambda v: v / 10)
    return st.integers(int(low), int(high)).map(float)


VITAL_VALUES = {
    name: st.one_of(_band(name, *NORMAL[name]), _band(name, *ALARMING[name]), _band(name, *lim))
    for name, lim in VITAL_RANGES.items()
}
"""Per vital, a value the contract accepts: mostly normal or alarming, sometimes anywhere in range."""


@st.composite
def vitals_values(draw: st.DrawFn, full_set: bool = False) -> Item:
    """The measurements of one reading: a full set, or one to three vitals (diastolic < systolic)."""
    names = [n for n in VITAL_RANGES if n != "diastolic_bp"]
    if full_set:
        chosen = ["heart_rate", "systolic_bp", "temperature_c", "spo2", "respiratory_rate"]
    else:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    values: Item = {name: draw(VITAL_VALUES[name]) for name in chosen}
    if "systolic_bp" in values and draw(st.booleans()):
        systolic = values["systolic_bp"]
        top = min(VITAL_RANGES["diastolic_bp"][1], systolic - 1)
        values["diastolic_bp"] = float(
            draw(st.one_of(st.just(round(systolic * 0.62)), st.integers(10, int(top))))
        )
    if draw(st.integers(0, 9)) == 0:
        values["on_oxygen"] = True
    return values


@st.composite
def symptom_fields(draw: st.DrawFn) -> Item:
    fields: Item = {
        "symptom": draw(st.sampled_from(SymptomName)).value,
        "severity": draw(st.sampled_from(SymptomSeverity)).value,
    }
    if draw(st.booleans()):
        fields["score"] = draw(st.integers(0, 10))
    if fields["symptom"] == "other":
        fields["note"] = "feels unwell"
    return fields


_LIKELY = st.sampled_from(LIKELY_CONDITIONS)
GUESSED_CONDITION = st.one_of(_LIKELY, _LIKELY, _LIKELY, st.sampled_from(ALERT_CONDITIONS))
"""A nurse acts on `{session}:{condition}:1` (sometimes :2), mostly of a likely condition."""
GUESSED_N = st.sampled_from([1, 1, 1, 2])
GAPS = st.one_of(st.integers(1, 12), st.integers(1, 12), st.integers(13, 45), st.integers(46, 600))
"""Minutes between steps: mostly a usual cadence, sometimes long enough to go stale or change phase."""
STEP_KINDS = st.sampled_from(["vitals"] * 5 + ["symptom"] * 2 + ["infusion"] + ["nurse"] * 3)
PUMP_ACTIONS = st.sampled_from([a for a in InfusionAction if a is not InfusionAction.START])


@st.composite
def session_items(draw: st.DrawFn, patient: str, session: str, offset: int) -> list[tuple[int, Item]]:
    """(nominal minute, item) of one infusion session of `patient`, starting at minute `offset`."""
    base = {"patient_id": patient, "session_id": session}
    items: list[tuple[int, Item]] = []
    for _ in range(draw(st.integers(0, 2))):  # readings before the start
        values = draw(vitals_values(full_set=draw(st.booleans())))
        items.append((offset - draw(st.integers(1, 30)), {"type": "vitals", **base, **values}))
    if draw(st.integers(0, 9)):  # usually started
        items.append(
            (
                offset,
                {"type": "infusion", "action": "start", "rate_ml_per_h": draw(st.integers(10, 200)), **base},
            )
        )
    minute = offset
    for _ in range(draw(st.integers(1, 30))):
        minute += draw(GAPS)
        kind = draw(STEP_KINDS)
        if kind == "vitals":
            items.append((minute, {"type": "vitals", **base, **draw(vitals_values())}))
        elif kind == "symptom":
            items.append((minute, {"type": "symptom", **base, **draw(symptom_fields())}))
        elif kind == "infusion":
            action = draw(PUMP_ACTIONS)
            item: Item = {"type": "infusion", "action": action.value, **base}
            if action in (InfusionAction.RATE_CHANGE,) or draw(st.booleans()):
                item["rate_ml_per_h"] = draw(st.integers(0, 400))
            items.append((minute, item))
        else:
            items.append(
                (
                    minute,
                    {
                        "type": draw(st.sampled_from(["ack", "ack", "resolve", "note"])),
                        "patient_id": patient,
                        "alert_id": f"{session}:{draw(GUESSED_CONDITION).value}:{draw(GUESSED_N)}",
                        "by": draw(st.sampled_from(["rn-1", "rn-2"])),
                        "note": draw(st.sampled_from([None, "called the patient"])),
                    },
                )
            )
    if draw(st.booleans()):
        minute += draw(GAPS)
        items.append((minute, {"type": "infusion", "action": "stop", **base}))
    return items


@st.composite
def patient_items(draw: st.DrawFn, patient: str) -> list[tuple[int, Item]]:
    """A profile (maybe) and one or two sessions of one patient."""
    items: list[tuple[int, Item]] = []
    offset = draw(st.integers(0, 60))
    if draw(st.integers(0, 4)):
        profile: Item = {
            "type": "profile",
            "patient_id": patient,
            "risk_factors": [
                f.value for f in draw(st.lists(st.sampled_from(RiskFactor), max_size=3, unique=True))
            ],
        }
        for key in ("epinephrine_available", "myasthenia_gravis"):
            value = draw(st.sampled_from([None, True, True, False]))
            if value is not None:
                profile[key] = value
        items.append((offset - draw(st.integers(1, 120)), profile))
    for number in range(1, draw(st.integers(1, 2)) + 1):
        items += draw(session_items(patient, f"{patient}-s{number}", offset))
        offset += draw(st.integers(20 * 60, 30 * 60))  # the next day's session
    return items


@st.composite
def replay_files(draw: st.DrawFn, max_patients: int = 3) -> list[str]:
    """The lines of a replay file: patients interleaved in (nominal) time order, some events resent
    (same `event_id`) a few lines later, some timestamps moved up to 5 minutes against file order."""
    items: list[tuple[int, Item]] = []
    for i in range(draw(st.integers(1, max_patients))):
        items += draw(patient_items(f"pt-{i}"))
    items.sort(key=lambda pair: pair[0])
    lines: list[str] = []
    resends: list[tuple[int, str]] = []
    for number, (minute, item) in enumerate(items):
        shift = draw(st.sampled_from([0, 0, 0, 0, 0, 0, -5, -3, -1, 2, 4]))
        item = {**item, "ts": ts(minute + shift)}
        if item["type"] not in ("ack", "resolve", "note") and draw(st.booleans()):
            item["event_id"] = f"ev-{number}"
        line = json.dumps(item)
        lines.append(line)
        if "event_id" in item and draw(st.integers(0, 5)) == 0:
            resends.append((len(lines) + draw(st.integers(0, 4)), line))
    for position, line in sorted(resends, reverse=True):
        lines.insert(min(position, len(lines)), line)
    return draw(nurses_answer(lines))


@st.composite
def nurses_answer(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """The file with nurses acting on some of the alerts it raises, a few minutes after each fires
    (acknowledge mostly, resolve sometimes), each action placed among the lines by its time."""
    fired = [
        alert
        for alert in replay(lines, RULES)
        if isinstance(alert, Alert) and alert.status is AlertStatus.FIRING
    ]
    if not fired:
        return lines
    chosen = draw(st.lists(st.sampled_from(fired), max_size=6, unique_by=lambda a: (a.alert_id, a.ts)))
    answered = list(lines)
    for alert in chosen:
        at = alert.ts + timedelta(minutes=draw(st.integers(0, 20)))
        action = {
            "type": draw(st.sampled_from(["ack", "ack", "ack", "resolve"])),
            "patient_id": alert.patient_id,
            "alert_id": alert.alert_id,
            "by": "rn-3",
            "ts": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        times = [datetime.fromisoformat(json.loads(line)["ts"]) for line in answered]
        position = next((i for i, t in enumerate(times) if t > at), len(answered))
        answered.insert(position, json.dumps(action))
    return answered
