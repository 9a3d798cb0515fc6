"""The simulated patients on maintenance home IVIG: condition, usual vitals, risk profile and dose."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from models.events import RiskFactor
from streams.apps.cohort.parameters import Parameter
from streams.apps.scenarios import USUAL_PRODUCTS

Diagnosis = Literal["myasthenia_gravis", "immunodeficiency"]
VITALS: tuple[str, ...] = ("systolic_bp", "diastolic_bp", "heart_rate", "spo2", "temperature_c")
"""What the home devices measure (no home device gives a breathing rate, so none is simulated)."""

MYASTHENIA_SHARE = 0.40
AGE = (55.0, 15.0, 18, 88)
"""Mean, SD, lowest, highest (years)."""
WEIGHT = (80.0, 16.0, 45.0, 140.0)
"""Mean, SD, lowest, highest (kg)."""
HYPERTENSION_SHARE = 0.30
USUAL_SYSTOLIC = {False: (121.0, 10.0), True: (140.0, 12.0)}
"""Mean and SD of the usual systolic (mmHg), without and with hypertension."""
USUAL_DIASTOLIC = {False: (75.0, 7.0), True: (85.0, 8.0)}
USUAL_HEART_RATE = (74.0, 10.0, 50.0, 105.0)
USUAL_SPO2 = (97.3, 1.0, 95.0, 100.0)
LOW_SPO2_SHARE = 0.03
LOW_SPO2_RANGE = (91.0, 94.0)
USUAL_TEMPERATURE = (36.6, 0.25, 35.9, 37.3)
RISK_SHARES: dict[RiskFactor, float] = {
    RiskFactor.FIRST_INFUSION: 0.04,
    RiskFactor.BRAND_SWITCH: 0.04,
    RiskFactor.LONG_GAP: 0.04,
    RiskFactor.PRIOR_REACTION: 0.08,
    RiskFactor.MIGRAINE_HISTORY: 0.12,
    RiskFactor.DIABETES: 0.12,
    RiskFactor.HEART_DISEASE: 0.08,
    RiskFactor.RENAL_DISEASE: 0.05,
    RiskFactor.THROMBOSIS_HISTORY: 0.04,
    RiskFactor.STROKE_HISTORY: 0.02,
}
IGA_DEFICIENCY_SHARE = 0.02
"""Of the patients with an immunodeficiency."""
DOSE_G_PER_KG: dict[Diagnosis, tuple[float, float]] = {
    "myasthenia_gravis": (0.4, 1.0),
    "immunodeficiency": (0.4, 0.6),
}
VIAL_G = 5.0
"""Doses are rounded to whole vials."""
SLOW_RISKS = frozenset(
    {
        RiskFactor.RENAL_DISEASE,
        RiskFactor.THROMBOSIS_HISTORY,
        RiskFactor.STROKE_HISTORY,
        RiskFactor.HEART_DISEASE,
        RiskFactor.AGE_OVER_65,
    }
)
SLOW_MAX_RATE_ML_PER_KG_H = 2.0
"""The titration of a patient with a renal or thrombosis risk stops at this rate."""
SWITCH_PRODUCT = "Privigen"
"""What a brand switch infuses (its minimum start rate, clinical reference 4.2)."""
CONTINUOUS_OXIMETER_SHARE = 0.10

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "diagnosis",
        f"myasthenia gravis {MYASTHENIA_SHARE:.0%}, antibody deficiency the rest",
        "[assumption] home IVIG caseloads are mostly antibody deficiency",
    ),
    Parameter("age", "N(55, 15) years, 18-88", "[assumption] adults on maintenance IVIG"),
    Parameter("weight", "N(80, 16) kg, 45-140", "[assumption] adult population"),
    Parameter(
        "hypertension",
        f"{HYPERTENSION_SHARE:.0%}; usual systolic N(140, 12), diastolic N(85, 8) "
        "(others N(121, 10) / N(75, 7))",
        "WHO 2023: a third of adults 30-79 have hypertension, about half controlled",
    ),
    Parameter("usual heart rate", "N(74, 10) /min, 50-105", "[assumption] adult resting range"),
    Parameter(
        "usual SpO2",
        f"N(97.3, 1.0) %, 95-100; {LOW_SPO2_SHARE:.0%} of patients 91-94 %",
        "[assumption] lung disease, obesity or myasthenic weakness in a few",
    ),
    Parameter("usual temperature", "N(36.6, 0.25) C, 35.9-37.3", "Obermeyer et al., BMJ 2017 (oral 36.6 C)"),
    Parameter(
        "risk factors",
        ", ".join(f"{r.value} {s:.0%}" for r, s in RISK_SHARES.items())
        + f", iga_deficiency {IGA_DEFICIENCY_SHARE:.0%} of antibody deficiency, age_over_65 from age",
        "[assumption] shares; the factors are the contract's (clinical reference 4.4)",
    ),
    Parameter(
        "products and dose",
        "usual product one of " + ", ".join(USUAL_PRODUCTS) + f"; a brand switch infuses {SWITCH_PRODUCT}; "
        "myasthenia 0.4-1.0 g/kg, antibody deficiency 0.4-0.6 g/kg, whole 5 g vials",
        "clinical reference 4.2 (titrations, maintenance doses)",
    ),
    Parameter(
        "slow titration",
        f"renal, thrombosis, stroke, heart disease or age over 65: max {SLOW_MAX_RATE_ML_PER_KG_H:g} mL/kg/h",
        "IVIG boxed warnings: minimum practicable rate for patients at risk",
    ),
    Parameter(
        "continuous oximeter",
        f"{CONTINUOUS_OXIMETER_SHARE:.0%} of patients wear one (instead of spot SpO2)",
        "[assumption]",
    ),
)


@dataclass(frozen=True, slots=True)
class Patient:
    """One patient of the cohort, as the care team knows them and as their body behaves."""

    patient_id: str
    diagnosis: Diagnosis
    age: int
    weight_kg: float
    hypertensive: bool
    usual: dict[str, float]
    """The patient's usual (true, noise-free) value of each of VITALS."""
    risk_factors: tuple[RiskFactor, ...]
    usual_product: str
    product: str
    """What this infusion gives (a brand switch gives another product than the usual one)."""
    dose_g: float
    max_rate_ml_per_kg_h: float | None
    continuous_oximeter: bool

    @property
    def has_post_set(self) -> bool:
        """First, switched or long-gap infusion: vitals again 30-60 min after the end (reference 4.1)."""
        post = {RiskFactor.FIRST_INFUSION, RiskFactor.BRAND_SWITCH, RiskFactor.LONG_GAP}
        return bool(post & set(self.risk_factors))


def _clipped(rng: random.Random, mean: float, sd: float, low: float, high: float) -> float:
    return min(high, max(low, rng.gauss(mean, sd)))


def draw_patient(patient_id: str, rng: random.Random) -> Patient:
    """A patient drawn from the cohort model (the draws come in a fixed order)."""
    diagnosis: Diagnosis = "myasthenia_gravis" if rng.random() < MYASTHENIA_SHARE else "immunodeficiency"
    age = round(_clipped(rng, AGE[0], AGE[1], AGE[2], AGE[3]))
    weight = round(_clipped(rng, *WEIGHT), 1)
    hypertensive = rng.random() < HYPERTENSION_SHARE
    systolic = rng.gauss(*USUAL_SYSTOLIC[hypertensive])
    diastolic = min(systolic - 25, rng.gauss(*USUAL_DIASTOLIC[hypertensive]))
    spo2 = _clipped(rng, *USUAL_SPO2)
    if rng.random() < LOW_SPO2_SHARE:
        spo2 = rng.uniform(*LOW_SPO2_RANGE)
    usual = {
        "systolic_bp": max(95.0, systolic),
        "diastolic_bp": max(55.0, diastolic),
        "heart_rate": _clipped(rng, *USUAL_HEART_RATE),
        "spo2": spo2,
        "temperature_c": _clipped(rng, *USUAL_TEMPERATURE),
    }
    risks = [risk for risk, share in RISK_SHARES.items() if rng.random() < share]
    if diagnosis == "immunodeficiency" and rng.random() < IGA_DEFICIENCY_SHARE:
        risks.append(RiskFactor.IGA_DEFICIENCY)
    if age > 65:
        risks.append(RiskFactor.AGE_OVER_65)
    usual_product = rng.choice(USUAL_PRODUCTS)
    product = SWITCH_PRODUCT if RiskFactor.BRAND_SWITCH in risks else usual_product
    low, high = DOSE_G_PER_KG[diagnosis]
    dose = max(VIAL_G, round(rng.uniform(low, high) * weight / VIAL_G) * VIAL_G)
    continuous = rng.random() < CONTINUOUS_OXIMETER_SHARE
    return Patient(
        patient_id=patient_id,
        diagnosis=diagnosis,
        age=age,
        weight_kg=weight,
        hypertensive=hypertensive,
        usual=usual,
        risk_factors=tuple(risks),
        usual_product=usual_product,
        product=product,
        dose_g=dose,
        max_rate_ml_per_kg_h=SLOW_MAX_RATE_ML_PER_KG_H if SLOW_RISKS & set(risks) else None,
        continuous_oximeter=continuous,
    )
