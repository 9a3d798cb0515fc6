"""What counts as the first evidence of an injected serious event."""

from __future__ import annotations

from streams.apps.cohort.serious_events import Criterion, Injected, Kind

USUAL = {"systolic_bp": 130.0, "diastolic_bp": 80.0, "heart_rate": 70.0, "spo2": 97.0, "temperature_c": 36.5}


def event(*criteria: Criterion) -> Injected:
    return Injected(Kind.HYPOTENSION, "", 30.0, (), (), (), frozenset(criteria))


def test_a_low_systolic_is_evidence_below_90_or_30_percent_under_usual_and_only_after_onset() -> None:
    low = event(Criterion.LOW_SYSTOLIC)
    assert low.is_evidence_reading("cuff", 31, USUAL | {"systolic_bp": 89.0}, USUAL)
    assert low.is_evidence_reading("cuff", 31, USUAL | {"systolic_bp": 90.0}, USUAL)  # 31 % under 130
    assert not low.is_evidence_reading("cuff", 31, USUAL | {"systolic_bp": 95.0}, USUAL)
    assert not low.is_evidence_reading("cuff", 29, USUAL | {"systolic_bp": 70.0}, USUAL)
    assert not low.is_evidence_reading("oximeter", 31, USUAL | {"systolic_bp": 70.0}, USUAL)


def test_a_febrile_reading_needs_38_and_a_rise_of_1() -> None:
    fever = event(Criterion.FEBRILE)
    assert fever.is_evidence_reading("thermometer", 40, USUAL | {"temperature_c": 38.0}, USUAL)
    assert not fever.is_evidence_reading("thermometer", 40, USUAL | {"temperature_c": 37.9}, USUAL)
    warm = USUAL | {"temperature_c": 37.2}
    assert not fever.is_evidence_reading("thermometer", 40, warm | {"temperature_c": 38.1}, warm)


def test_low_spo2_is_evidence_at_92_or_less() -> None:
    hypoxic = event(Criterion.LOW_SPO2)
    assert hypoxic.is_evidence_reading("oximeter", 40, USUAL | {"spo2": 92.0}, USUAL)
    assert not hypoxic.is_evidence_reading("oximeter", 40, USUAL | {"spo2": 93.0}, USUAL)
