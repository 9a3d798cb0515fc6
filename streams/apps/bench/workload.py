"""The bench's synthetic home infusions: many patients mid-infusion, readings stamped with send time.

Pure (no I/O): given a patient index, a time and a random stream it builds contract events. Each
patient has a profile, a full set of baseline vitals, then an infusion start; after that it sends
oximeter, cuff and thermometer readings and pump heartbeats. A small share of oximeter readings
breach the SpO2 warning row (`hypoxemia.band_92_93`), so alerts keep firing; the bench's probe
acts as the nurse and resolves each one, so the next breach fires the alert again (n + 1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

JsonDict = dict[str, Any]

BREACH_SPO2 = 93
"""At most 93 % fires hypoxemia.band_92_93 (a warning) and nothing else: no respiratory rate is
sent, so NEWS2 never has a full set."""
DEVICE_MIX = (("oximeter", 0.5), ("cuff", 0.25), ("thermometer", 0.15), ("pump", 0.10))


def rfc3339(ts: datetime) -> str:
    """Microsecond RFC 3339 in UTC, as the contract wants (`Z` offset)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Pool:
    """`size` patients named `{prefix}-00001` ... with one session each."""

    prefix: str
    size: int

    def patient(self, index: int) -> str:
        return f"{self.prefix}-{index + 1:05d}"

    def session(self, index: int) -> str:
        return f"{self.patient(index)}-s1"


@lru_cache(maxsize=65536)
def _base(pool: Pool, index: int) -> dict[str, float]:
    rng = random.Random(f"{pool.prefix}/{index}")  # noqa: S311 - simulation, not security
    return {
        "systolic_bp": rng.uniform(110, 135),
        "diastolic_bp": rng.uniform(65, 82),
        "heart_rate": rng.uniform(64, 86),
        "spo2": rng.uniform(96, 99),
        "temperature_c": rng.uniform(36.3, 36.8),
    }


def _vitals(pool: Pool, index: int, device: str, rng: random.Random, breach: bool) -> JsonDict:
    base = _base(pool, index)

    def noisy(vital: str, sd: float) -> float:
        return base[vital] + max(-1.75 * sd, min(1.75 * sd, rng.gauss(0, sd)))

    if device == "oximeter":
        spo2 = BREACH_SPO2 if breach else min(100, round(noisy("spo2", 0.6)))
        return {"spo2": spo2, "heart_rate": round(noisy("heart_rate", 3.0))}
    if device == "cuff":
        systolic = round(noisy("systolic_bp", 4.0))
        return {
            "systolic_bp": systolic,
            "diastolic_bp": min(round(noisy("diastolic_bp", 3.0)), systolic - 15),
            "heart_rate": round(noisy("heart_rate", 3.0)),
        }
    return {"temperature_c": round(noisy("temperature_c", 0.05), 1)}


def _event(pool: Pool, index: int, kind: str, ts: datetime, n: int, device: str) -> JsonDict:
    event: JsonDict = {"type": kind, "patient_id": pool.patient(index)}
    if kind != "profile":
        event["session_id"] = pool.session(index)
    event["ts"] = rfc3339(ts)
    event["event_id"] = f"{pool.session(index)}-{device}-{n}"
    event["device_id"] = f"{device}-{pool.patient(index)}"
    return event


def setup_events(pool: Pool, index: int, ts: datetime) -> list[JsonDict]:
    """Profile, a full set of baseline vitals, then the infusion start (all at `ts`, in order)."""
    rng = random.Random(index)  # noqa: S311 - simulation, not security
    profile = _event(pool, index, "profile", ts, 0, "profile")
    profile.update(weight_kg=round(rng.uniform(50, 100), 1), risk_factors=[], epinephrine_available=True)
    events = [profile]
    for device in ("cuff", "oximeter", "thermometer"):
        reading = _event(pool, index, "vitals", ts, 0, device)
        reading.update(_vitals(pool, index, device, rng, breach=False))
        events.append(reading)
    start = _event(pool, index, "infusion", ts, 0, "pump")
    start.update(action="start", rate_ml_per_h=60.0, product="Privigen", dose_g=35.0)
    events.append(start)
    return events


def mid_infusion_events(pool: Pool, index: int, now: datetime) -> list[JsonDict]:
    """A patient 20 minutes into an infusion, with its baseline taken before the start.

    The start is sent last, after a full set of vitals stamped `now`: a start arriving after that
    reading finds it, so neither the stale-data nor the missing-baseline timer falls due.
    """
    profile, *baseline_set, start = setup_events(pool, index, now - timedelta(minutes=22))
    profile["ts"] = start["ts"] = rfc3339(now - timedelta(minutes=20))
    current = {**baseline_set[0], "ts": rfc3339(now), "event_id": f"{pool.session(index)}-set-0"}
    for event in baseline_set[1:]:
        current.update({k: v for k, v in event.items() if k in VITALS})
    return [profile, *baseline_set, current, start]


VITALS = ("systolic_bp", "diastolic_bp", "heart_rate", "spo2", "temperature_c")


def pick_device(rng: random.Random) -> str:
    draw, total = rng.random(), 0.0
    for device, share in DEVICE_MIX:
        total += share
        if draw < total:
            return device
    return DEVICE_MIX[-1][0]


def reading(
    pool: Pool, index: int, ts: datetime, n: int, rng: random.Random, breach_share: float
) -> JsonDict:
    """The patient's `n`-th reading after the start: a device reading or a pump heartbeat."""
    device = pick_device(rng)
    if device == "pump":
        event = _event(pool, index, "infusion", ts, n, device)
        event.update(action="status", rate_ml_per_h=60.0)
        return event
    event = _event(pool, index, "vitals", ts, n, device)
    breach = device == "oximeter" and rng.random() < breach_share * 2  # oximeter is half the mix
    event.update(_vitals(pool, index, device, rng, breach))
    return event


def continuous_reading(pool: Pool, index: int, ts: datetime, n: int, rng: random.Random) -> JsonDict:
    """The patient's worn pulse oximeter, once a second (`mode: continuous`): SpO2 and pulse with
    ordinary noise around the patient's own values."""
    event = _event(pool, index, "vitals", ts, n, "oximeter")
    event.update(_vitals(pool, index, "oximeter", rng, breach=False), mode="continuous")
    return event
