"""Scale-out and rebalance: two rules workers share the partitions, a third joins mid-run and one
of the first two leaves (SIGTERM) mid-run, while events keep coming.

Scripted infusions, six per partition so that whatever moves, patients move with it:
- every patient: profile, two baseline readings (temperature 36.0 C), the start, vitals every 5
  minutes, then every 2 seconds of event time while the workers come and go, then every 5 minutes;
- "baseline" patients report 37.3 C after the moves: `temperature_rise` (1.0 C above the baseline,
  below 38) fires only if the baseline learnt before the move moved with the partition;
- "open" patients drop to SpO2 90 % before the moves and stay there: their urgent `hypoxemia` alert
  (pending at the first low reading, confirmed at the next) opened before the move must not fire
  again after it, and its incident's escalations (due 15, 30 and 45 minutes later, all after the
  move) must each come exactly once, under the same id.

Readings are sent round by round, each once the workers have taken the previous one (except while
the workers change), so every worker's clock follows the readings as a replay's does and the live
alerts must equal the replay's exactly. Afterwards every partition's lag is zero and every
patient's events are in InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.alerts import Alert, AlertStatus
from streams.infra.kafka.topics import EVENTS_TOPIC, partition_of
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from tests.integration.conftest import alert_key, local_settings
from tests.integration.faults.conftest import (
    COUNT_FIELD,
    RULES_TOPICS,
    WRITER_TOPICS,
    FaultStack,
    fault_stack,
    firing_counts,
    group_lag,
    healthy,
    line,
    produce_paced,
    read_alerts,
    replay_alerts,
    settled,
    wait_lag_zero,
)

pytestmark = pytest.mark.integration

PARTITIONS = 6
PER_PARTITION = {"baseline": 2, "open": 2, "plain": 2}
MOVING_ROUNDS = 150
"""At most this many 2-second rounds while workers change (5 minutes: escalations stay ahead)."""


def patients() -> dict[str, str]:
    """{patient_id: kind}, PER_PARTITION of each kind on every partition."""
    wanted = {(p, kind): n for p in range(PARTITIONS) for kind, n in PER_PARTITION.items()}
    out: dict[str, str] = {}
    i = 0
    while any(wanted.values()):
        i += 1
        patient = f"rb-{i:04d}"
        part = partition_of(patient.encode(), PARTITIONS)
        kind = next((k for (p, k), n in wanted.items() if p == part and n), None)
        if kind:
            wanted[(part, kind)] -= 1
            out[patient] = kind
    return out


class Script:
    """The events of every patient, as JSON lines in the order they are produced."""

    def __init__(self, start: datetime, kinds: dict[str, str]) -> None:
        self.start, self.kinds = start, kinds
        self.lines: list[str] = []
        self.vitals_n = 0

    def ts(self, at: timedelta) -> str:
        return (self.start + at).strftime("%Y-%m-%dT%H:%M:%SZ")

    def event(self, patient: str, at: timedelta, **fields: Any) -> str:
        self.vitals_n += 1
        base: dict[str, Any] = {
            "patient_id": patient,
            "ts": self.ts(at),
            "event_id": f"{patient}-{self.vitals_n}",
        }
        if fields.get("type") != "profile":
            base["session_id"] = f"{patient}-s1"
        text = line({**base, **fields})
        self.lines.append(text)
        return text

    def vitals(self, at: timedelta, spo2_open: bool = False, fever_baseline: bool = False) -> list[str]:
        out = []
        for patient, kind in self.kinds.items():
            spo2 = 90 if spo2_open and kind == "open" else 98
            temp = 37.3 if fever_baseline and kind == "baseline" else 36.0
            out.append(
                self.event(
                    patient,
                    at,
                    type="vitals",
                    heart_rate=76,
                    systolic_bp=122,
                    diastolic_bp=76,
                    respiratory_rate=16,
                    spo2=spo2,
                    temperature_c=temp,
                )
            )
        return out

    def each(self, at: timedelta, **fields: Any) -> list[str]:
        return [self.event(patient, at, **fields) for patient in self.kinds]


@pytest.fixture(scope="module")
def rebalance_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    settings = local_settings(
        tmp_path_factory.mktemp("rebalance"),
        tick_seconds=1.0,
        topic_partitions=PARTITIONS,
        worker_session_timeout_seconds=6.0,
    )
    with fault_stack(settings, {"rules-a": "rules", "rules-b": "rules", "writer": "writer"}) as faults:
        yield faults


async def send_round(settings: Settings, lines: list[str]) -> None:
    """Produce one round and wait until the rules workers have committed it."""
    await produce_paced(settings, lines, rate=5000.0)
    await wait_lag_zero(settings, settings.rules_app_id, RULES_TOPICS, timeout=90)


async def keep_sending(settings: Settings, script: Script, first: timedelta, stop: asyncio.Event) -> int:
    """A round every second, 2 s of event time apart, until `stop` (or MOVING_ROUNDS)."""
    rounds = 0
    while not stop.is_set() and rounds < MOVING_ROUNDS:
        await produce_paced(
            settings, script.vitals(first + timedelta(seconds=2 * rounds), spo2_open=True), 5000.0
        )
        rounds += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    return rounds


async def test_state_and_timers_move_with_their_partitions(rebalance_stack: FaultStack) -> None:
    faults, settings = rebalance_stack, rebalance_stack.settings
    kinds = patients()
    start = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    script, m = Script(start, kinds), lambda minutes: timedelta(minutes=minutes)

    # before: two workers learn the baselines and open the urgent alerts
    await send_round(settings, script.each(m(-30), type="profile", epinephrine_available=True))
    for minute in (-20, -10):
        await send_round(settings, script.vitals(m(minute)))
    await send_round(settings, script.each(m(0), type="infusion", action="start", rate_ml_per_h=60))
    for minute in (5, 10, 15, 20):
        await send_round(settings, script.vitals(m(minute)))
    for minute in (25, 30):
        await send_round(settings, script.vitals(m(minute), spo2_open=True))
    before = {
        name: (faults.health(name) or {}).get("assigned_partitions", 0) for name in ("rules-a", "rules-b")
    }

    # mid-run: a third worker joins, then the first leaves, while readings keep coming
    stop = asyncio.Event()
    sender = asyncio.create_task(keep_sending(settings, script, m(30) + timedelta(seconds=2), stop))
    faults.start("rules-c", "rules")
    await healthy(faults, "rules-c")
    three = await settled(faults, ("rules-a", "rules-b", "rules-c"))
    await asyncio.to_thread(faults.stop, "rules-a")
    two = await settled(faults, ("rules-b", "rules-c"))
    stop.set()
    moving_rounds = await sender
    faults.note(
        f"partitions before {before}, with three {three}, after {two}; {moving_rounds} rounds meanwhile"
    )
    assert three["rules-c"] > 0 and before["rules-a"] > 0, "no partition moved"

    # after: the moved timers fire, the moved baselines judge the new readings
    for minute in (40, 45, 50, 55, 60, 65, 70, 75):
        await send_round(settings, script.vitals(m(minute), spo2_open=True, fever_baseline=minute >= 45))
    await send_round(settings, script.each(m(80), type="infusion", action="status"))

    expected = replay_alerts(script.lines)
    seen = await _alerts_like(settings, expected)
    assert sorted(map(alert_key, seen)) == sorted(map(alert_key, expected)), (
        "live alerts differ from the replay"
    )

    for patient, kind in kinds.items():
        mine = [a for a in seen if a.patient_id == patient]
        if kind == "baseline":
            # the first 37.3 C waits for its repeat (pending), the next reading confirms it
            rise = [(a.status, a.pending) for a in mine if a.condition.value == "temperature_rise"]
            assert rise == [(AlertStatus.FIRING, True), (AlertStatus.FIRING, False)], f"{patient}: {rise}"
        if kind == "open":
            hypox = [a for a in sorted(mine, key=lambda a: a.ts) if a.condition.value == "hypoxemia"]
            # the first low reading waits for its repeat (pending), the next one confirms it
            assert [(a.status, a.pending) for a in hypox] == [
                (AlertStatus.FIRING, True),
                (AlertStatus.FIRING, False),
            ], f"{patient}: {[(a.status.value, a.pending) for a in hypox]}"
            assert len({a.alert_id for a in hypox}) == 1
            # its incident escalates (the alert no longer does), each level exactly once
            episode = [a for a in sorted(mine, key=lambda a: a.ts) if a.alert_id == hypox[-1].incident_id]
            assert [a.escalation_level for a in episode if a.status is AlertStatus.ESCALATED] == [1, 2, 3], (
                f"{patient}: {[(a.status.value, a.escalation_level) for a in episode]}"
            )
    assert max(firing_counts(seen).values()) == 1, "an alert was sent as firing again after a move"

    lag = await group_lag(settings, settings.rules_app_id, (EVENTS_TOPIC,))
    assert not any(lag.values()), lag
    await wait_lag_zero(settings, settings.writer_app_id, WRITER_TOPICS, timeout=90)
    produced = Counter(text.split('"patient_id":"', 1)[1].split('"', 1)[0] for text in script.lines)
    assert await _points_per_patient(settings) == dict(produced), "some patient's events are not in InfluxDB"


async def _alerts_like(settings: Settings, expected: list[Alert], timeout: float = 60.0) -> list[Alert]:
    """Every alert on the topic, once it holds as many as the replay (timers fire on ticks), and a
    few seconds more for any extra one."""
    deadline = time.monotonic() + timeout
    while True:
        seen = await read_alerts(settings)
        if len(seen) >= len(expected) or time.monotonic() > deadline:
            await asyncio.sleep(3.0)
            return await read_alerts(settings)
        await asyncio.sleep(1.0)


async def _points_per_patient(settings: Settings) -> dict[str, int]:
    where = "WHERE time >= '2000-01-01T00:00:00Z' AND time < '2200-01-01T00:00:00Z'"
    counts: Counter[str] = Counter()
    async with InfluxClient(settings, role="reader") as client:
        for measurement in ("vitals", "profiles", "infusion_events"):
            series = await client.query(
                f'SELECT COUNT("{COUNT_FIELD[measurement]}") FROM "{measurement}" {where} '
                'GROUP BY "patient_id"'
            )
            for s in series:
                counts[s["tags"]["patient_id"]] += int(s["values"][0][1])
    return dict(counts)
