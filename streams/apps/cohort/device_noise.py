"""Device error of the home cuff, pulse oximeter and thermometer, sized from their accuracy standards.

Each device has a bias for its patient (constant through a session: the same device on the same arm
or finger) and an error of its own in every reading; the standard bounds both. The physiological
variation of the patient (physiology.py) comes on top: the standards compare a device with a
reference measurement taken at the same moment, so they do not include it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from models.events import VITAL_RANGES
from streams.apps.cohort.parameters import Parameter
from streams.apps.scenarios import DEVICE_VITALS, Device


@dataclass(frozen=True, slots=True)
class DeviceError:
    """How far one device's reading of one vital strays from the truth."""

    device: Device
    vital: str
    bias_sd: float
    """SD of the per-patient bias across devices and patients."""
    bias_limit: float
    """No bias is larger than this (the standard's bound on the mean error)."""
    reading_sd: float
    """SD of each reading's own error around the bias."""
    decimals: int
    standard: str

    @property
    def rms(self) -> float:
        """Root-mean-square error over patients and readings (the oximeter standard's A_rms)."""
        return math.hypot(self.bias_sd, self.reading_sd)


CUFF_STANDARD = "ISO 81060-2:2018 criterion 1: mean error within +-5 mmHg, SD <= 8 mmHg"
OXIMETER_STANDARD = "ISO 80601-2-61:2017: SpO2 A_rms <= 4 % over 70-100 %; pulse rate A_rms <= 3 /min claimed"
THERMOMETER_STANDARD = (
    "ISO 80601-2-56:2017: laboratory error <= +-0.3 C; clinical repeatability about 0.2 C (home devices)"
)
CUFF_PULSE = "oscillometric pulse rate, manufacturers claim +-5 %"

ERRORS: dict[tuple[Device, str], DeviceError] = {
    (e.device, e.vital): e
    for e in (
        DeviceError("cuff", "systolic_bp", 2.5, 5.0, 5.0, 0, CUFF_STANDARD),
        DeviceError("cuff", "diastolic_bp", 2.0, 5.0, 4.0, 0, CUFF_STANDARD),
        DeviceError("cuff", "heart_rate", 1.0, 3.0, 3.0, 0, CUFF_PULSE),
        DeviceError("oximeter", "spo2", 1.5, 4.0, 1.0, 0, OXIMETER_STANDARD),
        DeviceError("oximeter", "heart_rate", 0.5, 2.0, 2.0, 0, OXIMETER_STANDARD),
        DeviceError("thermometer", "temperature_c", 0.1, 0.3, 0.2, 1, THERMOMETER_STANDARD),
    )
}
"""Every (device, vital) the home devices report."""

CONTINUOUS_SPO2_SD = 0.7
"""Sample-to-sample error of a worn oximeter (an averaged, settled signal), instead of the spot SD."""
SPOT_ARTEFACT_SHARE = 0.01
"""Spot SpO2 readings that are artefacts (motion, cold fingers, poor contact) ..."""
ARTEFACT_SPO2 = (84.0, 92.0)
"""... reading somewhere in this range whatever the truth."""
ARTEFACTS_PER_HOUR = 1.0
"""Artefact episodes of a worn oximeter (the patient moves, the probe slips) ..."""
ARTEFACT_SECONDS = (10.0, 40.0)
"""... each this long, every sample in it an artefact."""

Biases = dict[tuple[Device, str], float]

PARAMETERS: tuple[Parameter, ...] = (
    *(
        Parameter(
            f"{e.device} {e.vital}",
            f"bias N(0, {e.bias_sd:g}) within +-{e.bias_limit:g}, reading SD {e.reading_sd:g} "
            f"(rms {e.rms:.2g}), {e.decimals} decimals",
            e.standard,
        )
        for e in ERRORS.values()
    ),
    Parameter("worn oximeter SpO2", f"sample SD {CONTINUOUS_SPO2_SD:g} around the bias", "[assumption]"),
    Parameter(
        "oximeter artefacts",
        f"{SPOT_ARTEFACT_SHARE:.0%} of spot SpO2 readings, {ARTEFACTS_PER_HOUR:g}/h episodes of "
        f"{ARTEFACT_SECONDS[0]:g}-{ARTEFACT_SECONDS[1]:g} s on a worn one; SpO2 {ARTEFACT_SPO2[0]:g}-"
        f"{ARTEFACT_SPO2[1]:g} %",
        "[assumption] motion and perfusion artefacts, outside the standard's test conditions",
    ),
)


def draw_biases(rng: random.Random) -> Biases:
    """Each device's bias for one patient and session."""
    return {
        key: max(-e.bias_limit, min(e.bias_limit, rng.gauss(0.0, e.bias_sd))) for key, e in ERRORS.items()
    }


def measure(
    device: Device,
    true: dict[str, float],
    biases: Biases,
    rng: random.Random,
    *,
    worn: bool = False,
    artefact: bool = False,
) -> dict[str, float]:
    """One reading of `device` given the true vitals: rounded as the device shows it, within the
    contract's ranges. `worn`: a sample of a continuous oximeter; `artefact`: inside an artefact
    episode. A spot oximeter reading draws its own artefact chance (always, so draws stay aligned)."""
    values: dict[str, float] = {}
    for vital in DEVICE_VITALS[device]:
        error = ERRORS[(device, vital)]
        sd = CONTINUOUS_SPO2_SD if worn and vital == "spo2" else error.reading_sd
        value = true[vital] + biases[(device, vital)] + rng.gauss(0.0, sd)
        values[vital] = value
    if device == "oximeter":
        spot_artefact = rng.random() < SPOT_ARTEFACT_SHARE
        if artefact or (spot_artefact and not worn):
            values["spo2"] = rng.uniform(*ARTEFACT_SPO2)
        values["spo2"] = min(100.0, values["spo2"])
    shown: dict[str, float] = {}
    for vital, value in values.items():
        low, high = VITAL_RANGES[vital]
        decimals = ERRORS[(device, vital)].decimals
        shown[vital] = min(high, max(low, round(value, decimals) if decimals else float(round(value))))
    if "diastolic_bp" in shown:
        shown["diastolic_bp"] = min(shown["diastolic_bp"], shown["systolic_bp"] - 10)
    return shown


def artefact_windows(rng: random.Random, first: float, last: float) -> list[tuple[float, float]]:
    """Artefact episodes of a worn oximeter between minutes `first` and `last` (a Poisson process)."""
    windows: list[tuple[float, float]] = []
    at = first
    while True:
        at += rng.expovariate(ARTEFACTS_PER_HOUR / 60.0)
        if at >= last:
            return windows
        windows.append((at, at + rng.uniform(*ARTEFACT_SECONDS) / 60.0))
