"""The patient's true vitals over a session: the usual value, slow variation, and injected courses."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from streams.apps.cohort.parameters import Parameter
from streams.apps.cohort.population import VITALS
from streams.apps.scenarios import Effect

DRIFT: dict[str, tuple[float, float]] = {
    "systolic_bp": (5.0, 30.0),
    "diastolic_bp": (3.0, 30.0),
    "heart_rate": (5.0, 15.0),
    "spo2": (0.6, 10.0),
    "temperature_c": (0.15, 60.0),
}
"""Per vital: SD of the patient's own variation around the usual value, and its correlation time
(minutes): an Ornstein-Uhlenbeck process, so two readings a minute apart agree and two an hour
apart barely do."""
GRID_MINUTES = 1.0

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "variation within a patient",
        "; ".join(f"{v} SD {sd:g}, {tau:g} min" for v, (sd, tau) in DRIFT.items()),
        "[assumption] resting short-term variability (talking, posture, anxiety); Ornstein-Uhlenbeck",
    ),
)


@dataclass(frozen=True, slots=True)
class Course:
    """An injected change of one vital: `effect` runs from `anchor` (minutes after the start)."""

    anchor: float
    effect: Effect

    def apply(self, minute: float, value: float) -> float:
        return self.effect.at(minute - self.anchor, value)


@dataclass(frozen=True, slots=True)
class Drift:
    """The patient's own variation on a one-minute grid from `first` (minutes after the start)."""

    first: float
    values: dict[str, tuple[float, ...]]

    def at(self, vital: str, minute: float) -> float:
        series = self.values[vital]
        x = min(max((minute - self.first) / GRID_MINUTES, 0.0), len(series) - 1.0)
        i = min(int(x), len(series) - 2)
        return series[i] + (series[i + 1] - series[i]) * (x - i)


def draw_drift(rng: random.Random, first: float, last: float) -> Drift:
    """Variation from minute `first` to `last` (later times keep the last value). Each vital draws
    from a stream seeded by `rng`, so a longer grid only adds to the end of each series."""
    points = max(2, math.ceil((last - first) / GRID_MINUTES) + 1)
    seeds = {vital: rng.getrandbits(64) for vital in DRIFT}
    values: dict[str, tuple[float, ...]] = {}
    for vital, (sd, tau) in DRIFT.items():
        rng = random.Random(seeds[vital])  # noqa: S311 - simulation, not security
        keep = math.exp(-GRID_MINUTES / tau)
        fresh = sd * math.sqrt(1 - keep * keep)
        x = rng.gauss(0.0, sd)
        series = [x]
        for _ in range(points - 1):
            x = x * keep + rng.gauss(0.0, fresh)
            series.append(x)
        values[vital] = tuple(series)
    return Drift(first, values)


@dataclass(frozen=True, slots=True)
class Body:
    """What a perfect device would read at any minute after the start."""

    usual: dict[str, float]
    drift: Drift
    courses: tuple[Course, ...] = ()

    def true_at(self, minute: float) -> dict[str, float]:
        values = {v: self.usual[v] + self.drift.at(v, minute) for v in VITALS}
        for course in self.courses:
            vital = course.effect.vital
            values[vital] = course.apply(minute, values[vital])
        values["spo2"] = min(100.0, values["spo2"])
        return values
