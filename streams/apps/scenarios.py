"""Scenarios of the home-infusion simulator: what happens in a session, and which alerts it should raise.

A scenario is data. Its effects, symptoms, extra readings and rate action are placed relative to an
*anchor*: the n-th rate increase of the session (reactions cluster in the 30 minutes after one,
clinical reference Part A), or a minute after the start. `streams.apps.simulator` turns a scenario into
events; the expected alerts are what the default rule set v1 (clinical reference Part A) should say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import Literal

from models.alerts import Condition, Severity
from models.events import RiskFactor, SymptomName, SymptomSeverity

Device = Literal["cuff", "oximeter", "thermometer"]

DEVICE_VITALS: dict[Device, tuple[str, ...]] = {
    "cuff": ("systolic_bp", "diastolic_bp", "heart_rate"),
    "oximeter": ("spo2", "heart_rate"),
    "thermometer": ("temperature_c",),
}
"""What each home device measures."""


RatePlan = Sequence[tuple[int, float]]
"""(minute after the start, mL/h): the start rate, then every change."""

STEP_MINUTES = 30


@dataclass(frozen=True, slots=True)
class Titration:
    """A product's rate plan (10% products, mL/kg/h): the start rate, then one step every 30 min."""

    rates: tuple[float, ...]

    def for_weight(self, weight_kg: float) -> list[tuple[int, float]]:
        return [(STEP_MINUTES * i, round(r * weight_kg, 1)) for i, r in enumerate(self.rates)]


def volume(rates: RatePlan, until: float) -> float:
    """mL delivered from minute 0 to `until` under a piecewise-constant rate plan."""
    total = 0.0
    for i, (at, rate) in enumerate(rates):
        end = min(rates[i + 1][0] if i + 1 < len(rates) else until, until)
        total += max(0.0, end - at) * rate / 60
    return total


def minutes_to_deliver(rates: RatePlan, ml: float) -> int:
    """Whole minutes until `ml` have been delivered (at most a day)."""
    delivered = 0.0
    for i, (at, rate) in enumerate(rates):
        end = rates[i + 1][0] if i + 1 < len(rates) else None
        if rate > 0 and (end is None or at + (ml - delivered) * 60 / rate <= end):
            return min(math.ceil(at + (ml - delivered) * 60 / rate), 24 * 60)
        if end is not None:
            delivered += (end - at) * rate / 60
    return 24 * 60


PRODUCTS: dict[str, Titration] = {
    # clinical reference 4.2: Gammagard 0.5 mL/kg/h, raised every 30 min, max 5 mL/kg/h (PI)
    "Gammagard Liquid": Titration((0.5, 1.0, 2.0, 3.0, 4.0, 5.0)),
    # Octagam 10%: 0.01 mL/kg/min (0.6 mL/kg/h), doubled every 30 min
    "Octagam 10%": Titration((0.6, 1.2, 2.4, 4.8)),
    # Gamunex-C (PI): 0.01 mL/kg/min, gradually, max 0.08 mL/kg/min (4.8 mL/kg/h)
    "Gamunex-C": Titration((0.6, 1.2, 2.4, 3.6, 4.8)),
    # Privigen: 0.005 mL/kg/min (0.3 mL/kg/h), max 0.08 mL/kg/min; the minimum rate after a brand switch
    "Privigen": Titration((0.3, 0.6, 1.2, 2.4, 3.6, 4.8)),
}
USUAL_PRODUCTS: tuple[str, ...] = ("Gammagard Liquid", "Octagam 10%", "Gamunex-C")


@dataclass(frozen=True, slots=True)
class Abs:
    """An absolute value of a vital (a plain number in an `Effect` is a change from baseline)."""

    value: float


@dataclass(frozen=True, slots=True)
class Effect:
    """A vital's course: piecewise linear through (minutes after the anchor, change or `Abs`).

    Before the first point the vital is at the patient's baseline; after the last it stays there.
    """

    vital: str
    points: tuple[tuple[int, float | Abs], ...]

    def at(self, minute: float, base: float) -> float:
        """The vital's true value `minute` minutes after the anchor, for a patient's baseline."""
        points = [(t, v.value if isinstance(v, Abs) else base + v) for t, v in self.points]
        if minute < points[0][0]:
            return base
        for (t0, v0), (t1, v1) in pairwise(points):
            if minute <= t1:
                return v0 + (v1 - v0) * (minute - t0) / (t1 - t0)
        return points[-1][1]


@dataclass(frozen=True, slots=True)
class SymptomSpec:
    """A symptom the patient reports in the app, `minute` minutes after the anchor."""

    minute: int
    symptom: SymptomName
    severity: SymptomSeverity
    score: float | None = None
    note: str | None = None


class RateAction(StrEnum):
    REVERT = "revert"
    """The nurse slows back to the rate before the last step; no further steps."""
    HOLD = "hold"
    """No further rate steps."""
    STOP = "stop"
    """The infusion is stopped."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """An alert condition the scenario should raise, at `severity` or higher (and `at_most`)."""

    condition: Condition
    severity: Severity
    at_most: Severity | None = None

    def __str__(self) -> str:
        if self.at_most == self.severity:
            return f"{self.condition.value} ({self.severity.value})"
        upper = f"..{self.at_most.value}" if self.at_most else "+"
        return f"{self.condition.value} ({self.severity.value}{upper})"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    expected: tuple[Expectation, ...] = ()
    exclusive: bool = False
    """No alert at warning or above other than the expected ones."""
    anchor_step: int | None = None
    """Anchor at the n-th rate increase (1-based) ..."""
    anchor_minute: int = 0
    """... plus this many minutes (from the start when `anchor_step` is None)."""
    effects: tuple[Effect, ...] = ()
    symptoms: tuple[SymptomSpec, ...] = ()
    extra_readings: tuple[tuple[int, Device], ...] = ()
    """Rechecks beyond the routine cadence: (minutes after the anchor, device)."""
    rate_action: tuple[int, RateAction] | None = None
    """(minutes after the anchor, what the nurse does to the pump)."""
    risk_factors: tuple[RiskFactor, ...] = ()
    myasthenia_gravis: bool | None = None
    """On the profile (None: about one patient in four)."""
    product: str | None = None
    """The product infused (None: the patient's usual product)."""
    usual_product: str | None = None
    """The product on the profile (None: the one infused)."""
    baseline: tuple[tuple[str, float, float], ...] = ()
    """Overrides of the patient's baseline ranges: (vital, low, high)."""
    post_minutes: int = 20
    """How long readings go on after the stop."""


W, U, C = Severity.WARNING, Severity.URGENT, Severity.CRITICAL
MILD, MODERATE, SEVERE = SymptomSeverity.MILD, SymptomSeverity.MODERATE, SymptomSeverity.SEVERE
S = SymptomName

UNEVENTFUL = Scenario(
    name="uneventful",
    description="Titrated to the maximum rate; vitals stay near baseline, nothing reported.",
    exclusive=True,
)

FEBRILE = Scenario(
    name="febrile_after_rate_increase",
    description="Chills and a temperature of 38+ C (1.6-2 C over baseline) within 30 min of the "
    "2nd rate step; the nurse slows back to the previous rate.",
    expected=(Expectation(Condition.FEVER, U), Expectation(Condition.INFUSION_REACTION, U)),
    anchor_step=2,
    effects=(
        Effect("temperature_c", ((0, 0.0), (10, 0.6), (20, 1.8), (30, 1.9), (50, 1.0), (80, 0.4))),
        Effect("heart_rate", ((0, 0.0), (20, 14.0), (30, 16.0), (60, 6.0), (90, 0.0))),
        Effect("systolic_bp", ((0, 0.0), (20, 6.0), (60, 0.0))),
    ),
    symptoms=(
        SymptomSpec(14, S.CHILLS, MODERATE, note="shivering, feels cold"),
        SymptomSpec(22, S.MUSCLE_PAIN, MILD, score=3),
    ),
    extra_readings=(
        (10, "thermometer"),
        (20, "thermometer"),
        (26, "cuff"),
        (40, "thermometer"),
        (55, "thermometer"),
        (70, "thermometer"),
    ),
    rate_action=(25, RateAction.REVERT),
)

ANAPHYLAXIS = Scenario(
    name="anaphylaxis",
    description="Flushing and hives, then wheezing and throat tightness minutes after the 1st rate step; "
    "SpO2 falls to 89, systolic to about 80; the infusion is stopped.",
    expected=(
        Expectation(Condition.ANAPHYLAXIS, C),
        Expectation(Condition.HYPOTENSION, C),
        Expectation(Condition.HYPOXEMIA, U),
        Expectation(Condition.INFUSION_REACTION, U),
        Expectation(Condition.RESPIRATORY_COMPROMISE, C),
    ),
    anchor_step=1,
    effects=(
        Effect("systolic_bp", ((0, 0.0), (5, -10.0), (9, Abs(84)), (14, Abs(79)), (24, Abs(96)), (45, -8.0))),
        Effect("diastolic_bp", ((0, 0.0), (5, -6.0), (9, Abs(52)), (14, Abs(48)), (24, Abs(60)), (45, -5.0))),
        Effect("spo2", ((0, 0.0), (5, Abs(95)), (9, Abs(90)), (14, Abs(89)), (24, Abs(94)), (45, -1.0))),
        Effect("heart_rate", ((0, 0.0), (5, 15.0), (9, 36.0), (14, 40.0), (24, 24.0), (45, 8.0))),
    ),
    symptoms=(
        SymptomSpec(3, S.FLUSHING, MODERATE, note="face and neck hot and red"),
        SymptomSpec(5, S.HIVES, MODERATE, note="welts on arms and chest"),
        SymptomSpec(7, S.WHEEZING, MODERATE),
        SymptomSpec(8, S.THROAT_TIGHTNESS, SEVERE, note="hard to swallow"),
    ),
    extra_readings=(
        (8, "oximeter"),
        (9, "cuff"),
        (12, "oximeter"),
        (13, "cuff"),
        (18, "cuff"),
        (24, "cuff"),
        (33, "cuff"),
    ),
    rate_action=(11, RateAction.STOP),
    post_minutes=45,
)

HEADACHE_MILD = Scenario(
    name="headache_mild",
    description="One mild headache (3/10) reported 20 min after the 2nd rate step; vitals normal.",
    # a mild headache alone is managed at home: information, not a page (rule file 1.3.0)
    expected=(Expectation(Condition.INFUSION_REACTION, Severity.INFO, at_most=Severity.INFO),),
    exclusive=True,
    anchor_step=2,
    anchor_minute=20,
    symptoms=(SymptomSpec(0, S.HEADACHE, MILD, score=3, note="dull, front of the head"),),
)

HYPERTENSION = Scenario(
    name="hypertension",
    description="Systolic climbs from about 135 to 170+ during titration; the nurse slows the rate.",
    expected=(Expectation(Condition.HYPERTENSION, U),),
    anchor_minute=40,
    effects=(
        Effect("systolic_bp", ((0, 0.0), (30, 22.0), (50, 42.0), (65, 46.0), (85, 30.0), (110, 18.0))),
        Effect("diastolic_bp", ((0, 0.0), (30, 6.0), (50, 10.0), (65, 11.0), (85, 7.0), (110, 4.0))),
    ),
    extra_readings=((55, "cuff"), (70, "cuff")),
    rate_action=(52, RateAction.REVERT),
    baseline=(("systolic_bp", 130, 140), ("diastolic_bp", 78, 86)),
)

HIGH_RISK_FIRST = Scenario(
    name="high_risk_first_infusion",
    description="Myasthenia patient, first infusion of a new brand (first_infusion, brand_switch): "
    "tightened limits; a 1 C temperature rise after the 2nd step, the rate is slowed.",
    expected=(
        Expectation(Condition.HIGH_RISK_SESSION, Severity.INFO, at_most=Severity.INFO),
        Expectation(Condition.TEMPERATURE_RISE, W, at_most=W),
    ),
    exclusive=True,
    anchor_step=2,
    effects=(Effect("temperature_c", ((0, 0.0), (15, 0.5), (25, 1.0), (45, 1.0), (75, 0.4), (100, 0.1))),),
    extra_readings=((20, "thermometer"), (25, "thermometer"), (40, "thermometer")),
    rate_action=(27, RateAction.REVERT),
    risk_factors=(RiskFactor.FIRST_INFUSION, RiskFactor.BRAND_SWITCH),
    myasthenia_gravis=True,
    product="Privigen",
    usual_product="Gammagard Liquid",
    baseline=(("temperature_c", 36.3, 36.7),),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (UNEVENTFUL, FEBRILE, ANAPHYLAXIS, HEADACHE_MILD, HYPERTENSION, HIGH_RISK_FIRST)
}
"""Every scenario by name."""

DEMO_SCENARIOS: tuple[str, ...] = (
    "uneventful",
    "febrile_after_rate_increase",
    "uneventful",
    "anaphylaxis",
    "headache_mild",
    "hypertension",
    "high_risk_first_infusion",
)
"""The demo plan: one session per patient, in this order."""

REACTION_SCENARIOS: tuple[str, ...] = (
    "headache_mild",
    "febrile_after_rate_increase",
    "hypertension",
    "anaphylaxis",
)
"""The reactions the load plan mixes in (every ~50th patient)."""
