"""When things happen in a session: the pump's titration, and the vitals sets of the care schedule.

The schedule is the one the clinical reference's protocols converge on (Part B 4.1): a set before
the start, 15 minutes after it, at each rate step, hourly at the plateau rate, at the end, and for
first, switched or long-gap infusions again 30-60 minutes after the end. Patients take the sets a
little early or late, now and then forget one, or skip one device of a set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from models.events import InfusionAction
from streams.apps.cohort.parameters import Parameter
from streams.apps.cohort.population import Patient
from streams.apps.scenarios import PRODUCTS, Device

MAX_INFUSION_MINUTES = 480
HEARTBEAT_MINUTES = 10
"""The pump sends a `status` heartbeat this often."""
NO_STEP_BEFORE_STOP = 10
"""A rate step due this close to the stop is not made."""

PRE_MINUTE, PRE_JITTER = -20.0, 8.0
AFTER_START_MINUTE = 15.0
PLATEAU_EVERY = 60.0
END_GAP = 15.0
"""A plateau set due this close to the end is left to the end set."""
POST_MINUTE, POST_JITTER = 45.0, 15.0
"""30-60 minutes after the end."""
ON_TIME_SHARE = 0.75
ON_TIME = (-3.0, 3.0)
LATE = (3.0, 15.0)
MISSED_SHARE = 0.05
PRE_MISSED_SHARE = 0.02
DEVICE_SKIPPED_SHARE = 0.03
DEVICE_OFFSET: dict[Device, tuple[float, float]] = {
    "cuff": (0.0, 0.0),
    "oximeter": (0.2, 1.5),
    "thermometer": (0.5, 3.0),
}
"""Minutes after the set's first reading that each device is read."""
WORN_EVERY_SECONDS = 15.0
"""A worn oximeter's sample interval (1 Hz thinned to one sample in 15 s, to keep the run short)."""
WORN_AFTER_END = 10.0
"""A worn oximeter stays on this long after the end set."""

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "care schedule",
        "set at -20 min (+-8), +15 min, at each rate step, hourly at the plateau, at the end; "
        "+45 min (+-15) after the end for first, switched or long-gap infusions",
        "clinical reference Part B 4.1 (summary schedule); EU core SmPC (1 h after for naive/switch/gap)",
    ),
    Parameter(
        "set timing",
        f"{ON_TIME_SHARE:.0%} within +-3 min of due, the rest 3-15 min late; cuff, then oximeter "
        "0.2-1.5 min and thermometer 0.5-3 min after it",
        "[assumption]",
    ),
    Parameter(
        "missed",
        f"{MISSED_SHARE:.0%} of sets ({PRE_MISSED_SHARE:.0%} of pre-start sets); "
        f"{DEVICE_SKIPPED_SHARE:.0%} of devices within a taken set",
        "[assumption]",
    ),
    Parameter(
        "pump",
        f"titration of the product every 30 min to its max (or the patient's cap), heartbeat every "
        f"{HEARTBEAT_MINUTES} min, stop when the dose is in (at most {MAX_INFUSION_MINUTES} min)",
        "clinical reference 4.2; streams/apps/scenarios.py PRODUCTS",
    ),
    Parameter(
        "worn oximeter",
        f"a sample every {WORN_EVERY_SECONDS:g} s from the pre-start set to {WORN_AFTER_END:g} min after "
        "the end set (1 Hz thinned for run time)",
        "[assumption]",
    ),
)


class SetReason(StrEnum):
    """Why a set of vitals is due (clinical reference 4.1)."""

    PRE = "pre"
    AFTER_START = "after_start"
    RATE_STEP = "rate_step"
    PLATEAU = "plateau"
    END = "end"
    POST = "post"


@dataclass(frozen=True, slots=True)
class PumpPlan:
    """The pump's plan: (minute after the start, mL/h) for the start and each change, and the stop."""

    rates: tuple[tuple[float, float], ...]
    stop: float

    @property
    def steps(self) -> tuple[float, ...]:
        """Minutes of the rate increases."""
        return tuple(m for (_, before), (m, rate) in pairwise(self.rates) if rate > before)

    def rate_at(self, minute: float) -> float:
        return [rate for at, rate in self.rates if at <= minute][-1]

    def events(self) -> Iterator[tuple[float, InfusionAction, float | None]]:
        """(minute, action, rate) of every pump event: start, changes and heartbeats, then the stop."""
        changes = dict(self.rates[1:])
        yield 0.0, InfusionAction.START, self.rates[0][1]
        beats = {
            float(m) for m in range(HEARTBEAT_MINUTES, int(self.stop), HEARTBEAT_MINUTES) if m < self.stop
        }
        for minute in sorted(beats | set(changes)):
            if minute in changes:
                yield minute, InfusionAction.RATE_CHANGE, changes[minute]
            else:
                yield minute, InfusionAction.STATUS, self.rate_at(minute)
        yield self.stop, InfusionAction.STOP, None


@dataclass(frozen=True, slots=True)
class DueSet:
    reason: SetReason
    minute: float


@dataclass(frozen=True, slots=True)
class SpotReading:
    """One device read at `minute` after the start, as part of a set."""

    device: Device
    minute: float
    reason: SetReason


def delivery_minutes(rates: Sequence[tuple[float, float]], ml: float) -> float:
    """Minutes until `ml` are in under a piecewise-constant rate plan (at most MAX_INFUSION_MINUTES)."""
    delivered = 0.0
    for i, (at, rate) in enumerate(rates):
        end = rates[i + 1][0] if i + 1 < len(rates) else float(MAX_INFUSION_MINUTES)
        if rate > 0 and delivered + (end - at) * rate / 60 >= ml:
            return min(float(MAX_INFUSION_MINUTES), at + (ml - delivered) * 60 / rate)
        delivered += (end - at) * rate / 60
    return float(MAX_INFUSION_MINUTES)


def _planned(rates: Sequence[tuple[float, float]], ml: float, stop_at: float | None = None) -> PumpPlan:
    stop = round(delivery_minutes(rates, ml), 1)
    if stop_at is not None:
        stop = min(stop, stop_at)
    kept = [(m, rate) for i, (m, rate) in enumerate(rates) if i == 0 or m < stop - NO_STEP_BEFORE_STOP]
    return PumpPlan(tuple(kept), stop)


def pump_plan(patient: Patient) -> PumpPlan:
    """The product's titration for the patient's weight, capped for a slow patient, to the dose
    (a 10 % product: 10 mL per gram)."""
    planned = [(float(m), rate) for m, rate in PRODUCTS[patient.product].for_weight(patient.weight_kg)]
    rates = list(planned)
    if patient.max_rate_ml_per_kg_h is not None:
        cap = round(patient.max_rate_ml_per_kg_h * patient.weight_kg, 1)
        rates = [r for r in planned if r[1] < cap]
        if len(rates) < len(planned):
            rates.append((planned[len(rates)][0], cap))
    return _planned(rates, patient.dose_g * 10)


def revise(pump: PumpPlan, patient: Patient, *, stop_at: float | None, revert_at: float | None) -> PumpPlan:
    """The plan after a reaction: the rate back to the previous step at `revert_at` (no further
    steps; the dose then takes longer), or the infusion stopped at `stop_at`."""
    rates = list(pump.rates)
    if revert_at is not None:
        rates = [r for r in rates if r[0] <= revert_at]
        if len(rates) > 1:
            rates.append((revert_at, rates[-2][1]))
    return _planned(rates, patient.dose_g * 10, stop_at)


def care_sets(pump: PumpPlan, post_set: bool) -> list[DueSet]:
    """The sets the care schedule asks for, at their due minutes after the start."""
    sets = [DueSet(SetReason.PRE, PRE_MINUTE)]
    if pump.stop - END_GAP > AFTER_START_MINUTE:
        sets.append(DueSet(SetReason.AFTER_START, AFTER_START_MINUTE))
    sets.extend(DueSet(SetReason.RATE_STEP, step) for step in pump.steps)
    plateau = (pump.steps[-1] if pump.steps else 0.0) + PLATEAU_EVERY
    while plateau < pump.stop - END_GAP:
        sets.append(DueSet(SetReason.PLATEAU, plateau))
        plateau += PLATEAU_EVERY
    sets.append(DueSet(SetReason.END, pump.stop))
    if post_set:
        sets.append(DueSet(SetReason.POST, pump.stop + POST_MINUTE))
    return sorted(sets, key=lambda s: s.minute)


def _taken_minute(due: DueSet, rng: random.Random) -> float:
    if due.reason is SetReason.PRE:
        return due.minute + rng.uniform(-PRE_JITTER, PRE_JITTER)
    if due.reason is SetReason.POST:
        return due.minute + rng.uniform(-POST_JITTER, POST_JITTER)
    on_time = rng.random() < ON_TIME_SHARE
    return due.minute + rng.uniform(*(ON_TIME if on_time else LATE))


def take_sets(due: Sequence[DueSet], rng: random.Random, *, worn_oximeter: bool) -> list[SpotReading]:
    """The readings the patient actually takes: jittered, some sets missed, some devices skipped
    (a patient wearing an oximeter takes no spot SpO2)."""
    readings: list[SpotReading] = []
    devices: tuple[Device, ...] = (
        ("cuff", "thermometer") if worn_oximeter else ("cuff", "oximeter", "thermometer")
    )
    for item in due:
        missed = rng.random() < (PRE_MISSED_SHARE if item.reason is SetReason.PRE else MISSED_SHARE)
        minute = _taken_minute(item, rng)
        for device in devices:
            skipped = rng.random() < DEVICE_SKIPPED_SHARE
            offset = rng.uniform(*DEVICE_OFFSET[device])
            if not missed and not skipped:
                readings.append(SpotReading(device, minute + offset, item.reason))
    return sorted(readings, key=lambda r: r.minute)


def worn_samples(first: float, last: float) -> list[float]:
    """Minutes of a worn oximeter's samples from `first` to `last`."""
    step = WORN_EVERY_SECONDS / 60.0
    count = int((last - first) / step) + 1
    return [first + i * step for i in range(max(0, count))]
