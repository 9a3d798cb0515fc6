"""Seeded random replay streams for the differential test: 1 Hz oximeters beside spot readings,
symptoms, a pump's rate steps and nurse actions, delivered out of order, late and duplicated."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

SYMPTOMS = (
    "headache",
    "chills",
    "hives",
    "itching",
    "flushing",
    "wheezing",
    "shortness_of_breath",
    "throat_tightness",
    "nausea",
    "dizziness",
    "muscle_pain",
    "chest_pain",
)
RISKS = ("first_infusion", "renal_disease", "age_over_65", "prior_reaction", "migraine_history")
ACKED = ("anaphylaxis", "hypotension", "tachycardia", "hypoxemia", "fever", "incident", "infusion_reaction")


@dataclass(frozen=True, slots=True)
class Shape:
    """How big a stream is: patients, and each one's infusion length in minutes."""

    patients: int = 3
    min_minutes: int = 45
    max_minutes: int = 75


def _stamp(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Patient:
    def __init__(self, rng: random.Random, stream: int, n: int, shape: Shape) -> None:
        self.rng = rng
        self.patient_id = f"pt-rnd-{stream:02d}-{n}"
        self.session_id = f"{self.patient_id}-d1"
        self.start = T0 + timedelta(minutes=rng.randint(0, 20), seconds=rng.randint(0, 59))
        self.stop = self.start + timedelta(minutes=rng.randint(shape.min_minutes, shape.max_minutes))
        self.events: list[dict[str, Any]] = []
        self.count = 0

    def add(self, ts: datetime, body: dict[str, Any], session: bool = True) -> None:
        self.count += 1
        event = {"patient_id": self.patient_id, "ts": _stamp(ts), **body}
        if session:
            event["session_id"] = self.session_id
        if body["type"] not in ("ack", "resolve", "note"):
            event["event_id"] = f"{self.patient_id}-e{self.count}"
        self.events.append(event)

    def build(self) -> list[dict[str, Any]]:
        rng = self.rng
        profile: dict[str, Any] = {"type": "profile", "epinephrine_available": rng.random() < 0.8}
        if rng.random() < 0.3:
            profile["myasthenia_gravis"] = True
        if rng.random() < 0.4:
            profile["risk_factors"] = rng.sample(RISKS, rng.randint(1, 2))
        self.add(self.start - timedelta(hours=1), profile, session=False)
        self._pump()
        self._oximeter()
        self._spot_sets()
        self._symptoms()
        self._actions()
        return self.events

    def _pump(self) -> None:
        rng = self.rng
        start = {"type": "infusion", "action": "start", "rate_ml_per_h": 60, "product": "Privigen"}
        self.add(self.start, start)
        rate, at = 60, self.start
        while True:
            at += timedelta(minutes=rng.randint(12, 30), seconds=rng.randint(0, 59))
            if at >= self.stop:
                break
            rate = min(rate * 2, 300)
            self.add(at, {"type": "infusion", "action": "rate_change", "rate_ml_per_h": rate})
        self.add(self.stop, {"type": "infusion", "action": "stop"})

    def _oximeter(self) -> None:
        """One reading a second from 10 min before the start to 10 min after the stop, with dips."""
        rng = self.rng
        spo2, pulse = rng.uniform(95, 99), rng.uniform(65, 90)
        dip_until: datetime | None = None
        ts = self.start - timedelta(minutes=10, milliseconds=rng.randint(0, 999))
        end = self.stop + timedelta(minutes=10)
        while ts < end:
            spo2 = min(100.0, max(85.0, spo2 + rng.gauss(0, 0.4) + (97 - spo2) * 0.05))
            pulse = min(160.0, max(45.0, pulse + rng.gauss(0, 1.0) + (78 - pulse) * 0.05))
            if dip_until is None and rng.random() < 0.0015:
                dip_until = ts + timedelta(seconds=rng.randint(10, 90))
            dipping = dip_until is not None and ts < dip_until
            if dip_until is not None and ts >= dip_until:
                dip_until = None
            values = {
                "spo2": round(spo2 - (rng.uniform(5, 9) if dipping else 0)),
                "heart_rate": round(pulse + (rng.uniform(25, 45) if dipping else 0)),
            }
            self.add(ts, {"type": "vitals", "mode": "continuous", "device_id": "oxi-1", **values})
            ts += timedelta(seconds=1, milliseconds=rng.randint(-20, 20))

    def _spot_sets(self) -> None:
        rng = self.rng
        at = self.start - timedelta(minutes=rng.randint(5, 25))
        while at < self.stop + timedelta(minutes=40):
            systolic = rng.gauss(125, 10) if rng.random() > 0.12 else rng.choice((82, 86, 168, 182))
            values: dict[str, Any] = {
                "systolic_bp": round(systolic),
                "diastolic_bp": round(min(systolic - 25, rng.gauss(78, 6))),
                "heart_rate": round(rng.gauss(78, 8)),
            }
            if rng.random() < 0.5:
                values["temperature_c"] = round(rng.gauss(36.8, 0.3) if rng.random() > 0.15 else 38.4, 1)
            if rng.random() < 0.3:
                values["respiratory_rate"] = round(rng.gauss(16, 3))
            self.add(at, {"type": "vitals", "device_id": "cuff-1", **values})
            at += timedelta(minutes=rng.randint(8, 20), seconds=rng.randint(0, 59))

    def _symptoms(self) -> None:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 1, 2, 3, 4))):
            at = self.start + (self.stop - self.start + timedelta(minutes=30)) * rng.random()
            severity = rng.choice(("mild", "moderate", "moderate", "severe"))
            self.add(at, {"type": "symptom", "symptom": rng.choice(SYMPTOMS), "severity": severity})

    def _actions(self) -> None:
        rng = self.rng
        for condition in rng.sample(ACKED, rng.randint(0, 3)):
            at = self.start + (self.stop - self.start) * rng.random()
            kind = rng.choice(("ack", "ack", "resolve", "note"))
            action = {"type": kind, "alert_id": f"{self.session_id}:{condition}:1", "by": "rn-01"}
            self.add(at, {**action, "note": "called the patient"}, session=False)


def _arrivals(rng: random.Random, events: list[dict[str, Any]]) -> list[tuple[datetime, dict[str, Any]]]:
    """Each event's arrival: mostly at once, some out of order, an oximeter's short outage sent as
    a late batch, a spot reading kept on the hub for half an hour, and some sent twice."""
    outage_from = T0 + timedelta(minutes=rng.randint(20, 60))
    outage_to = outage_from + timedelta(seconds=rng.randint(30, 150))
    upload = outage_to + timedelta(seconds=rng.randint(2, 15))
    held = rng.randrange(len(events))
    out: list[tuple[datetime, dict[str, Any]]] = []
    for i, event in enumerate(events):
        ts = datetime.fromisoformat(event["ts"])
        delay = timedelta(milliseconds=rng.randint(100, 2500))
        if rng.random() < 0.03:
            delay = timedelta(seconds=rng.uniform(5, 90))
        if event.get("device_id") == "oxi-1" and outage_from <= ts < outage_to:
            delay = upload - ts + timedelta(milliseconds=i % 1000)
        if i == held and event["type"] == "vitals":
            delay = timedelta(minutes=rng.randint(20, 40))
        out.append((ts + delay, event))
        if rng.random() < 0.02:
            out.append((ts + delay + timedelta(seconds=rng.uniform(0.5, 30)), event))
    out.sort(key=lambda pair: pair[0])
    return out


def random_stream(seed: int, shape: Shape = Shape()) -> tuple[list[str], datetime]:
    """The replay lines of stream `seed` (each with its `received_ts`) and the `until` to run to."""
    rng = random.Random(seed)
    patients = [_Patient(rng, seed, n, shape) for n in range(shape.patients)]
    events = [e for p in patients for e in p.build()]
    lines = [json.dumps({**event, "received_ts": _stamp(at)}) for at, event in _arrivals(rng, events)]
    until = max(p.stop for p in patients) + timedelta(hours=8)
    return lines, until
