"""The rule engine's cost over a long continuous session (in-process): sessions with a 1 Hz pulse
oximeter and a cuff every 15 minutes, µs per event and state size per 10 minutes of session time.
Flat figures mean an event costs the same however long its session has run."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agents.rules.engine import new_state, process
from agents.rules.loader import load_rules
from models.events import Event, Infusion, Vitals
from models.state import PatientState

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Bucket:
    minute: int
    us_per_event: float
    state_kib: float
    """Mean JSON size of a session's state at the bucket's end."""

    def line(self) -> str:
        return (
            f"  minute {self.minute:4d}: {self.us_per_event:8.1f} µs/event, "
            f"state {self.state_kib:8.1f} KiB/session"
        )


def _minute_events(sessions: int, minute: int, rng: random.Random) -> list[Event]:
    events: list[Event] = []
    for n in range(sessions):
        ids = {"patient_id": f"pt-long-{n}", "session_id": f"pt-long-{n}-d1"}
        base = T0 + timedelta(minutes=minute, milliseconds=n * 7)
        if minute == 0:
            events.append(Infusion(type="infusion", ts=base, action="start", rate_ml_per_h=60, **ids))
        if minute % 15 == 0:
            cuff = {"systolic_bp": rng.randint(115, 135), "diastolic_bp": rng.randint(70, 85)}
            events.append(
                Vitals(type="vitals", ts=base + timedelta(seconds=30), heart_rate=76, **cuff, **ids)
            )
        events.extend(
            Vitals(
                type="vitals",
                mode="continuous",
                ts=base + timedelta(seconds=second),
                spo2=rng.randint(95, 99),
                heart_rate=rng.randint(70, 82),
                **ids,
            )
            for second in range(60)
        )
    events.sort(key=lambda e: e.ts)
    return events


def run_long(sessions: int = 10, minutes: int = 100, every: int = 10) -> list[Bucket]:
    """Run `sessions` sessions for `minutes` of event time; one Bucket per `every` minutes."""
    rules = load_rules()
    rng = random.Random(7)  # noqa: S311 (a reproducible workload)
    states: dict[str, PatientState] = {}
    buckets: list[Bucket] = []
    spent, count = 0.0, 0
    for minute in range(minutes):
        events = _minute_events(sessions, minute, rng)
        began = time.perf_counter()
        for event in events:
            state = states.get(event.patient_id)
            if state is None:
                state = states[event.patient_id] = new_state(event.patient_id)
            process(state, event, event.ts, rules)
        spent += time.perf_counter() - began
        count += len(events)
        if (minute + 1) % every == 0:
            size = sum(len(s.model_dump_json()) for s in states.values()) / len(states) / 1024
            buckets.append(Bucket(minute + 1, spent / count * 1e6, size))
            spent, count = 0.0, 0
    return buckets


def main(sessions: int = 10, minutes: int = 90) -> list[Bucket]:
    print(
        f"long session: {sessions} sessions, 1 Hz oximeter + cuff every 15 min, {minutes} min of event time"
    )
    buckets = run_long(sessions, minutes)
    for bucket in buckets:
        print(bucket.line(), flush=True)
    settled = [b.us_per_event for b in buckets if b.minute > 40]  # the together window has filled
    if len(settled) >= 2:
        print(f"  after minute 40: {min(settled):.0f}-{max(settled):.0f} µs/event (flat: none with history)")
    return buckets


if __name__ == "__main__":
    main()
