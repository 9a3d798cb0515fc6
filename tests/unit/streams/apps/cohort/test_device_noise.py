"""Device error against the accuracy standards it is sized from, over many patients and readings."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from streams.apps.cohort import device_noise
from streams.apps.cohort.device_noise import ERRORS, draw_biases, measure

TRUE = {"systolic_bp": 125.0, "diastolic_bp": 78.0, "heart_rate": 72.0, "spo2": 90.0, "temperature_c": 36.8}
PATIENTS, READINGS = 1500, 12


def errors(vital: str, device: device_noise.Device, true: dict[str, float]) -> list[list[float]]:
    """Per simulated patient (device), the errors of its readings."""
    rng = random.Random(11)
    found = []
    for _ in range(PATIENTS):
        biases = draw_biases(rng)
        found.append([measure(device, true, biases, rng)[vital] - true[vital] for _ in range(READINGS)])
    return found


@pytest.mark.parametrize("vital", ["systolic_bp", "diastolic_bp"])
def test_cuffs_meet_iso_81060_2_criterion_1(vital: str) -> None:
    per_device = errors(vital, "cuff", TRUE)
    flat = [e for device in per_device for e in device]
    assert abs(statistics.fmean(flat)) <= 5  # mean error within +-5 mmHg
    assert statistics.pstdev(flat) <= 8  # SD at most 8 mmHg
    rng = random.Random(2)
    assert all(abs(draw_biases(rng)[("cuff", vital)]) <= 5 for _ in range(5000))  # each device's own mean
    stated = ERRORS[("cuff", vital)]
    assert statistics.pstdev(flat) == pytest.approx(math.hypot(stated.rms, 1 / math.sqrt(12)), rel=0.05)


@pytest.mark.parametrize("true_spo2", [72.0, 85.0, 94.0])
def test_oximeters_meet_iso_80601_2_61_arms(monkeypatch: pytest.MonkeyPatch, true_spo2: float) -> None:
    monkeypatch.setattr(device_noise, "SPOT_ARTEFACT_SHARE", 0.0)  # the standard tests at rest
    flat = [e for device in errors("spo2", "oximeter", TRUE | {"spo2": true_spo2}) for e in device]
    arms = math.sqrt(statistics.fmean(e * e for e in flat))
    assert arms <= 4.0
    assert arms == pytest.approx(math.hypot(ERRORS[("oximeter", "spo2")].rms, 1 / math.sqrt(12)), rel=0.06)


def test_spot_oximeter_artefacts_come_at_the_stated_share() -> None:
    rng, biases = random.Random(3), dict.fromkeys(ERRORS, 0.0)
    low = sum(measure("oximeter", TRUE | {"spo2": 99.0}, biases, rng)["spo2"] <= 92 for _ in range(20000))
    assert low / 20000 == pytest.approx(device_noise.SPOT_ARTEFACT_SHARE, abs=0.003)


def test_thermometers_keep_the_laboratory_bound_and_the_stated_repeatability() -> None:
    per_device = errors("temperature_c", "thermometer", TRUE)
    rng = random.Random(5)
    assert all(
        abs(b) <= 0.3 for _ in range(2000) for b in [draw_biases(rng)[("thermometer", "temperature_c")]]
    )
    within = [e - statistics.fmean(device) for device in per_device for e in device]
    stated = ERRORS[("thermometer", "temperature_c")].reading_sd
    spread = math.hypot(stated, 0.1 / math.sqrt(12)) * math.sqrt((READINGS - 1) / READINGS)
    assert statistics.pstdev(within) == pytest.approx(spread, rel=0.05)


def test_readings_stay_in_the_contract_and_spo2_never_passes_100() -> None:
    rng = random.Random(9)
    for _ in range(3000):
        biases = draw_biases(rng)
        cuff = measure("cuff", TRUE, biases, rng)
        assert cuff["diastolic_bp"] < cuff["systolic_bp"]
        assert measure("oximeter", TRUE | {"spo2": 99.5}, biases, rng)["spo2"] <= 100
