"""Simulated home IVIG infusions as contract events (pure: no I/O, deterministic given the seed).

One session: a `profile`, baseline vitals in the 30 minutes before the start, the pump's start, rate
steps every 30 minutes (the product's titration, clinical reference 4.2) and heartbeats every 10,
cuff readings every 15 minutes, oximeter every 5, thermometer every 15 (every 30 once at the
maximum rate), the scenario's symptoms and deviations, the stop, and readings after it.

Randomness comes from one `random.Random` per session, seeded with (seed, session id): a session
does not depend on what else is generated, so plans of many sessions can be produced lazily.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from streams.apps.scenarios import (
    DEMO_SCENARIOS,
    DEVICE_VITALS,
    PRODUCTS,
    REACTION_SCENARIOS,
    SCENARIOS,
    STEP_MINUTES,
    USUAL_PRODUCTS,
    Device,
    RateAction,
    Scenario,
    minutes_to_deliver,
    volume,
)

JsonDict = dict[str, Any]

LEAD_TIME = timedelta(minutes=30)
"""The profile comes this long before the infusion start; baseline readings follow it."""
MAX_INFUSION_MINUTES = 150
STAGGER = timedelta(minutes=4)
"""Gap between the starts of the demo plan's sessions."""

BASELINE_RANGES: dict[str, tuple[float, float]] = {
    "systolic_bp": (108, 138),
    "diastolic_bp": (64, 84),
    "heart_rate": (62, 88),
    "spo2": (96, 99),
    "temperature_c": (36.3, 36.8),
}
NOISE_SD: dict[str, float] = {
    "systolic_bp": 4.0,
    "diastolic_bp": 3.0,
    "heart_rate": 3.0,
    "spo2": 0.6,
    "temperature_c": 0.05,
}
NOISE_CAP = 1.75
"""Noise is Gaussian, cut at this many standard deviations (a home device's plausible scatter)."""
LIMITS: dict[str, tuple[float, float]] = {
    "systolic_bp": (60, 250),
    "diastolic_bp": (30, 150),
    "heart_rate": (30, 220),
    "spo2": (60, 100),
    "temperature_c": (34.0, 42.0),
}
"""Simulated values stay inside these, well within the contract's accepted ranges."""
_ROUND = {"temperature_c": 1}
_COMMON_RISKS = ("age_over_65", "diabetes", "migraine_history")


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about a session fixed before its first event (small, so many can be open)."""

    scenario: Scenario
    patient_id: str
    session_id: str
    start: datetime
    rng: random.Random
    """The session's random stream: its device streams draw from it in their (fixed) merge order."""
    base: dict[str, float]
    profile: JsonDict
    product: str
    dose_g: float
    planned_end: int
    rates: tuple[tuple[int, float], ...]
    """(minute, mL/h): the start, then every change."""
    stop: int
    anchor: int
    titrated_at: int
    """Minute of the last rate change (thermometer every 30 min after it)."""

    def ts(self, minute: float, seconds: float = 0) -> str:
        when = self.start + timedelta(minutes=minute, seconds=seconds)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def event(self, kind: str, stream: str, n: int, minute: float, seconds: float = 0) -> JsonDict:
        event: JsonDict = {"type": kind, "patient_id": self.patient_id}
        if kind != "profile":
            event["session_id"] = self.session_id
        event["ts"] = self.ts(minute, seconds)
        event["event_id"] = f"{self.session_id}-{stream}-{n:03d}"
        event["device_id"] = f"{stream}-{self.patient_id}" if stream != "profile" else "care-team"
        return event


def _utc(start: datetime) -> datetime:
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must carry a UTC offset")
    return start.astimezone(UTC).replace(microsecond=0)


def _plan(scenario: Scenario, patient_id: str, session_id: str, start: datetime, seed: int) -> _Plan:
    rng = random.Random(f"{seed}/{session_id}")  # noqa: S311 - simulation, not security
    weight = round(min(115.0, max(45.0, rng.gauss(74, 13))), 1)
    ranges = BASELINE_RANGES | {v: (lo, hi) for v, lo, hi in scenario.baseline}
    base = {vital: rng.uniform(lo, hi) for vital, (lo, hi) in ranges.items()}
    usual = rng.choice(USUAL_PRODUCTS)
    product = scenario.product or usual
    risks = [r for r in _COMMON_RISKS if rng.random() < 0.15]
    risks += [r.value for r in scenario.risk_factors]
    profile: JsonDict = {
        "weight_kg": weight,
        "risk_factors": risks,
        "usual_product": (scenario.usual_product or product) if scenario.product else usual,
        "epinephrine_available": True,
        "myasthenia_gravis": (rng.random() < 0.25)
        if scenario.myasthenia_gravis is None
        else scenario.myasthenia_gravis,
    }
    planned = PRODUCTS[product].for_weight(weight)
    dose_g = round(volume(planned, rng.uniform(110, 140)) / 10 * 2) / 2
    planned_end = minutes_to_deliver(planned, dose_g * 10)
    anchor = scenario.anchor_minute + (STEP_MINUTES * scenario.anchor_step if scenario.anchor_step else 0)
    if scenario.anchor_step and scenario.anchor_step >= len(planned):
        raise ValueError(f"{product} has no rate step {scenario.anchor_step}")
    rates, stop = planned, None
    if scenario.rate_action is not None:
        offset, action = scenario.rate_action
        at = anchor + offset
        rates = [c for c in planned if c[0] <= at]
        if action is RateAction.REVERT and len(rates) > 1:
            rates.append((at, rates[-2][1]))
        elif action is RateAction.STOP:
            stop = at
    if stop is None:
        stop = min(minutes_to_deliver(rates, dose_g * 10), MAX_INFUSION_MINUTES)
    rates = [c for i, c in enumerate(rates) if i == 0 or c[0] < stop - 10]
    return _Plan(
        scenario=scenario,
        patient_id=patient_id,
        session_id=session_id,
        start=_utc(start),
        rng=rng,
        base=base,
        profile=profile,
        product=product,
        dose_g=dose_g,
        planned_end=planned_end,
        rates=tuple(rates),
        stop=stop,
        anchor=anchor,
        titrated_at=rates[-1][0],
    )


def _level(plan: _Plan, vital: str, minute: float) -> float:
    """The vital's true value at `minute` after the start: baseline plus the scenario's course."""
    for effect in plan.scenario.effects:
        if effect.vital == vital:
            return effect.at(minute - plan.anchor, plan.base[vital])
    return plan.base[vital]


def _reading(plan: _Plan, device: Device, minute: float, rng: random.Random) -> dict[str, float]:
    values: dict[str, float] = {}
    for vital in DEVICE_VITALS[device]:
        sd = NOISE_SD[vital]
        noise = max(-NOISE_CAP * sd, min(NOISE_CAP * sd, rng.gauss(0, sd)))
        lo, hi = LIMITS[vital]
        value = min(hi, max(lo, _level(plan, vital, minute) + noise))
        values[vital] = round(value, _ROUND[vital]) if vital in _ROUND else round(value)
    if "diastolic_bp" in values:
        values["diastolic_bp"] = min(values["diastolic_bp"], values["systolic_bp"] - 15)
    return values


def _device_minutes(plan: _Plan, device: Device) -> list[int]:
    stop, end = plan.stop, plan.stop + plan.scenario.post_minutes
    if device == "cuff":
        times = {-25, -12, *range(15, stop, 15), *range(stop + 10, end + 1, 10)}
    elif device == "oximeter":
        times = set(range(-25, end + 1, 5))
    else:
        titrating = range(15, min(stop, plan.titrated_at + 1), 15)
        steady = range(titrating[-1] + 30 if titrating else 30, stop, 30)
        times = {-22, -6, *titrating, *steady, stop + 15}
    times.update(plan.anchor + m for m, d in plan.scenario.extra_readings if d == device)
    return sorted(t for t in times if -25 <= t <= end)


def _device_stream(plan: _Plan, device: Device) -> Iterator[JsonDict]:
    rng = plan.rng
    for n, minute in enumerate(_device_minutes(plan, device), start=1):
        seconds = rng.uniform(0, 40)
        event = plan.event("vitals", device, n, minute, seconds)
        event.update(_reading(plan, device, minute + seconds / 60, rng))
        yield event


def _pump_stream(plan: _Plan) -> Iterator[JsonDict]:
    rng = plan.rng
    start = plan.event("infusion", "pump", 1, 0)
    start.update(
        action="start",
        rate_ml_per_h=plan.rates[0][1],
        product=plan.product,
        lot=f"L{rng.randint(100000, 999999)}",
        dose_g=plan.dose_g,
        planned_end=plan.ts(plan.planned_end),
    )
    yield start
    changes = dict(plan.rates[1:])
    status = {m for m in range(10, plan.stop, 10) if m not in changes}
    rate, n = plan.rates[0][1], 1
    for n, minute in enumerate(sorted(status | set(changes)), start=2):
        rate = changes.get(minute, rate)
        event = plan.event("infusion", "pump", n, minute)
        event.update(action="rate_change" if minute in changes else "status", rate_ml_per_h=rate)
        yield event
    stop = plan.event("infusion", "pump", n + 1, plan.stop)
    stop["action"] = "stop"
    yield stop


def _app_stream(plan: _Plan) -> Iterator[JsonDict]:
    end = plan.stop + plan.scenario.post_minutes
    specs = sorted(plan.scenario.symptoms, key=lambda s: s.minute)
    for n, spec in enumerate(specs, start=1):
        minute = plan.anchor + spec.minute
        if minute > end:
            continue
        event = plan.event("symptom", "app", n, minute, 20)
        event.update(symptom=spec.symptom.value, severity=spec.severity.value)
        event.update({k: v for k, v in (("score", spec.score), ("note", spec.note)) if v is not None})
        yield event


def _profile_stream(plan: _Plan) -> Iterator[JsonDict]:
    event = plan.event("profile", "profile", 1, -LEAD_TIME.total_seconds() / 60)
    event.update(plan.profile)
    yield event


def iter_session(
    scenario: Scenario | str, patient_id: str, session_id: str, start: datetime, seed: int
) -> Iterator[JsonDict]:
    """The events of one infusion, lazily, in event-time order; `start` is the infusion start."""
    chosen = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    plan = _plan(chosen, patient_id, session_id, start, seed)
    streams = [
        _profile_stream(plan),
        _pump_stream(plan),
        *(_device_stream(plan, d) for d in ("cuff", "oximeter", "thermometer")),
        _app_stream(plan),
    ]
    return heapq.merge(*streams, key=lambda e: str(e["ts"]))


def simulate_session(
    scenario: Scenario | str, patient_id: str, session_id: str, start: datetime, seed: int
) -> list[JsonDict]:
    """The events of one infusion as JSON-ready dicts in event-time order (profile first)."""
    return list(iter_session(scenario, patient_id, session_id, start, seed))


def session_id_for(patient_id: str, start: datetime) -> str:
    """Start date and minute, so a rerun of the demo the same day opens new sessions."""
    return f"{patient_id}-s{_utc(start):%Y%m%dT%H%M}"


def merge_sessions(sessions: Iterable[Callable[[], Iterator[JsonDict]]]) -> Iterator[JsonDict]:
    """Merge sessions by event time, opening each only when the merge reaches its first event.

    `sessions` yields, lazily and in the order of their first events, functions that open a
    session; only the sessions under way are held, so a large plan never fits in memory at once.
    """
    heap: list[tuple[str, int, JsonDict, Iterator[JsonDict]]] = []

    def until(limit: str | None) -> Iterator[JsonDict]:
        while heap and (limit is None or heap[0][0] < limit):
            _, n, event, source = heapq.heappop(heap)
            yield event
            if (following := next(source, None)) is not None:
                heapq.heappush(heap, (following["ts"], n, following, source))

    for order, opener in enumerate(sessions):
        events = opener()
        if (first := next(events, None)) is not None:
            yield from until(first["ts"])
            heapq.heappush(heap, (first["ts"], order, first, events))
    yield from until(None)


def scenario_plan(names: Sequence[str], start: datetime, seed: int) -> list[JsonDict]:
    """One session per scenario name (patients pt-0001, pt-0002, ...), merged by event time.

    The first session's infusion starts at `start`, the others every 4 minutes after it; each
    session's first event comes `LEAD_TIME` before its start.
    """
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}")
    events: list[JsonDict] = []
    for i, name in enumerate(names):
        patient_id = f"pt-{i + 1:04d}"
        begins = start + i * STAGGER
        events.extend(iter_session(name, patient_id, session_id_for(patient_id, begins), begins, seed))
    events.sort(key=lambda e: str(e["ts"]))
    return events


def demo_plan(start: datetime, seed: int) -> list[JsonDict]:
    """About six patients, one session each (two uneventful, febrile, anaphylaxis, headache,
    hypertension, high-risk first infusion), merged by event time. `start`: the first infusion start."""
    return scenario_plan(DEMO_SCENARIOS, start, seed)


def load_plan(patients: int, start: datetime, seed: int) -> Iterator[JsonDict]:
    """Many concurrent sessions, lazily: uneventful except every 50th patient (a reaction).

    Patients `ld-00001` ...; their infusions start spread over an hour from `start` (at most
    10 seconds apart), so they overlap.
    """
    spread = min(3600.0, patients * 10.0)
    width = max(5, len(str(patients)))

    def sessions() -> Iterator[Callable[[], Iterator[JsonDict]]]:
        for i in range(patients):
            begins = start + timedelta(seconds=round(i * spread / patients))
            name = REACTION_SCENARIOS[(i // 50) % len(REACTION_SCENARIOS)] if i % 50 == 49 else "uneventful"
            patient_id = f"ld-{i + 1:0{width}d}"
            session_id = session_id_for(patient_id, begins)
            yield partial(iter_session, name, patient_id, session_id, begins, seed)

    return merge_sessions(sessions())
