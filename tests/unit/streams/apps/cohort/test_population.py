"""The cohort's patients: drawn from the seed alone, in the shares the model states."""

from __future__ import annotations

import random

import pytest

from streams.apps.cohort import population
from streams.apps.cohort.population import draw_patient


def patients(seed: int, count: int) -> list[population.Patient]:
    rng = random.Random(seed)
    return [draw_patient(f"p{i}", rng) for i in range(count)]


def test_the_same_seed_draws_the_same_patients_and_another_seed_others() -> None:
    assert patients(1, 50) == patients(1, 50)
    assert patients(1, 50) != patients(2, 50)


def test_the_cohort_has_the_stated_shares() -> None:
    drawn = patients(7, 4000)
    share = lambda hits: sum(hits) / len(drawn)  # noqa: E731
    assert share(p.hypertensive for p in drawn) == pytest.approx(population.HYPERTENSION_SHARE, abs=0.03)
    assert share(p.diagnosis == "myasthenia_gravis" for p in drawn) == pytest.approx(
        population.MYASTHENIA_SHARE, abs=0.03
    )
    assert share(p.continuous_oximeter for p in drawn) == pytest.approx(
        population.CONTINUOUS_OXIMETER_SHARE, abs=0.02
    )
    assert share(p.usual["spo2"] < 95 for p in drawn) == pytest.approx(population.LOW_SPO2_SHARE, abs=0.015)


def test_usual_values_are_those_of_adults() -> None:
    for p in patients(3, 2000):
        assert 18 <= p.age <= 88
        assert p.usual["systolic_bp"] >= 95 and p.usual["diastolic_bp"] <= p.usual["systolic_bp"] - 25
        assert 91 <= p.usual["spo2"] <= 100
        assert 35.9 <= p.usual["temperature_c"] <= 37.3
        assert p.dose_g >= population.VIAL_G and p.dose_g % population.VIAL_G == 0


def test_a_brand_switch_infuses_another_product_and_a_risk_slows_the_titration() -> None:
    drawn = patients(5, 3000)
    switched = [p for p in drawn if population.RiskFactor.BRAND_SWITCH in p.risk_factors]
    assert switched and all(p.product == population.SWITCH_PRODUCT for p in switched)
    slow = [p for p in drawn if population.SLOW_RISKS & set(p.risk_factors)]
    assert slow and all(p.max_rate_ml_per_kg_h == population.SLOW_MAX_RATE_ML_PER_KG_H for p in slow)
    assert all(p.max_rate_ml_per_kg_h is None for p in drawn if p not in slow)
