"""What the I/O fault tests share: a stack of their own, steady load, topic watchers, point counts.

Load is produced in real time (event time = wall clock) by pseudonymous patients of one run prefix:
"steady" patients send a normal reading each tick, and each tick one new "trigger" patient sends a
low-SpO2 reading that must give a `hypoxemia` alert. Every send is counted only once the broker
acked it, with the wall time it was produced, so alert latency and completeness can be checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from agents.rules.loader import load_rules
from deploy.workers import WorkerProcess
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from streams.infra.sinks.influx.line_protocol import epoch_ms
from tests.integration.conftest import local_settings, running_stack

TRIGGER_CONDITION = "hypoxemia"
Stack = tuple[Settings, dict[str, WorkerProcess]]


def env_seconds(name: str, default: float) -> float:
    """A test duration from the environment (CI runs the short default, `make soak` the long one)."""
    return float(os.environ.get(name, default))


@contextlib.contextmanager
def fault_stack(
    state_dir: Path, roles: tuple[str, ...] = ("rules", "writer"), **overrides: Any
) -> Iterator[tuple[Settings, dict[str, WorkerProcess]]]:
    """Kafka, InfluxDB and the named workers of this test alone (free ports, own state dir)."""
    values: dict[str, Any] = {"influx_db": "ivigwatch_faults", "topic_partitions": 4, **overrides}
    settings = local_settings(state_dir, **values)
    with running_stack(settings, roles) as workers:
        yield settings, workers


@dataclass
class Sent:
    patient: str
    ts: str
    produced_at: float
    """Wall time (time.time()) just before the send."""
    phase: str
    trigger: bool
    acked: bool = False


@dataclass
class Load:
    """Steady readings plus one alert-raising reading per tick, each recorded once acked."""

    settings: Settings
    steady_patients: int = 5
    tick_seconds: float = 1.0
    prefix: str = field(default_factory=lambda: f"io{uuid.uuid4().hex[:6]}")
    phase: str = "before"
    sent: list[Sent] = field(default_factory=list)
    failed: int = 0
    _pending: set[asyncio.Future[Any]] = field(default_factory=set)
    _last_ts: dict[str, datetime] = field(default_factory=dict)

    def steady_id(self, number: int) -> str:
        return f"{self.prefix}-st{number}"

    async def run(self, stop: asyncio.Event) -> None:
        producer = kafka_clients.producer(
            self.settings, acks="all", linger_ms=5, request_timeout_ms=60_000, retry_backoff_ms=200
        )
        await producer.start()
        try:
            tick = 0
            while not stop.is_set():
                started = time.monotonic()
                for number in range(self.steady_patients):
                    await self._send(
                        producer, self.steady_id(number), {"heart_rate": 72 + tick % 5, "spo2": 97}
                    )
                await self._send(
                    producer, f"{self.prefix}-tr{tick}", {"spo2": 86, "heart_rate": 80}, trigger=True
                )
                tick += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        stop.wait(), max(0.0, self.tick_seconds - (time.monotonic() - started))
                    )
            if self._pending:
                await asyncio.wait(self._pending, timeout=90)
        finally:
            await producer.stop()

    def _next_ts(self, patient: str) -> str:
        """Now, but always after the patient's previous reading: a send that blocks (the broker is
        down) makes the next ticks start in the same millisecond, and two readings of one patient
        at one time are one InfluxDB point (a rewrite overwrites it, by design)."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        last = self._last_ts.get(patient)
        if last is not None and now <= last:
            now = last + timedelta(milliseconds=1)
        self._last_ts[patient] = now
        return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    async def _send(
        self, producer: Any, patient: str, values: dict[str, float], trigger: bool = False
    ) -> None:
        record = Sent(patient, self._next_ts(patient), time.time(), self.phase, trigger)
        event = {
            "type": "vitals",
            "patient_id": patient,
            "session_id": f"{patient}-s1",
            "ts": record.ts,
            **values,
        }
        try:
            future = await producer.send(EVENTS_TOPIC, json.dumps(event).encode(), key=patient.encode())
        except Exception:
            self.failed += 1
            return
        self.sent.append(record)
        self._pending.add(future)

        def done(fut: asyncio.Future[Any]) -> None:
            self._pending.discard(fut)
            if fut.cancelled() or fut.exception() is not None:
                self.failed += 1
            else:
                record.acked = True

        future.add_done_callback(done)

    def acked(self, phase: str | None = None, trigger: bool | None = None) -> list[Sent]:
        return [
            s
            for s in self.sent
            if s.acked and (phase is None or s.phase == phase) and (trigger is None or s.trigger == trigger)
        ]


class TopicWatch:
    """Reads topics from their current end in the background, noting each record's arrival time."""

    def __init__(self, settings: Settings, *topics: str) -> None:
        self.settings = settings
        self.topics = topics
        self.records: dict[str, list[tuple[float, dict[str, Any]]]] = {t: [] for t in topics}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        consumer = kafka_clients.consumer(
            self.settings, *self.topics, group_id=None, auto_offset_reset="latest"
        )
        await consumer.start()
        await consumer.seek_to_end()
        for tp in consumer.assignment():
            await consumer.position(tp)  # pinned now, before anything is produced
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            arrived = time.time()
            for tp, messages in batch.items():
                self.records[tp.topic].extend((arrived, json.loads(m.value)) for m in messages if m.value)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def wait_for(
        self, topic: str, predicate: Any, count: int, timeout: float
    ) -> list[tuple[float, Any]]:
        """Records of `topic` matching `predicate`, once there are `count` of them or at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            found = [(at, m) for at, m in self.records[topic] if predicate(m)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            if self._task is not None and self._task.done():
                raise AssertionError(f"the topic reader stopped: {self._task.exception()!r}")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def watching(settings: Settings, *topics: str) -> AsyncIterator[TopicWatch]:
    watch = TopicWatch(settings, *(topics or (ALERTS_TOPIC, DEADLETTER_TOPIC)))
    await watch.start()
    try:
        yield watch
    finally:
        await watch.stop()


def alerts_by_patient(watch: TopicWatch, prefix: str) -> dict[str, list[tuple[float, dict[str, Any]]]]:
    found: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for at, alert in watch.records[ALERTS_TOPIC]:
        if alert["patient_id"].startswith(prefix):
            found.setdefault(alert["patient_id"], []).append((at, alert))
    return found


def unexplained_alerts(watch: TopicWatch, load: Load) -> list[dict[str, Any]]:
    """This run's alert messages that its alert-raising readings do not explain. A trigger reading
    (a lone SpO2 86 %) raises a pending hypoxemia finding (`page` false) at once, and only once the
    rule file's confirmation delay has passed since it, the rules' timers page it "unconfirmed"
    and send its incident's own message: a slow run sees those, a quick one does not. Anything else
    (another condition, a steady patient's alert, a timer message before its time) is unexplained."""
    delay = load_rules().confirmation.delay_minutes * 60
    produced = {sent.patient: sent.produced_at for sent in load.sent if sent.trigger}
    unexplained = []
    for patient, alerts in alerts_by_patient(watch, load.prefix).items():
        for at, alert in alerts:
            kind = (alert["condition"], alert["status"])
            pending = kind == (TRIGGER_CONDITION, "firing") and not alert["page"]
            timers = kind in {(TRIGGER_CONDITION, "firing"), ("incident", "firing")}
            if patient in produced and (pending or (timers and at >= produced[patient] + delay - 1)):
                continue
            unexplained.append(alert)
    return unexplained


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)] if ordered else float("nan")


async def vitals_counts(settings: Settings, prefix: str) -> dict[str, int]:
    """Points in `vitals` per patient of this run (0 while InfluxDB does not answer)."""
    return await _per_patient(
        settings,
        f'SELECT COUNT("spo2") FROM "vitals" WHERE "patient_id" =~ /^{prefix}-/ GROUP BY "patient_id"',
    )


async def rollup_counts(settings: Settings, prefix: str) -> dict[str, int]:
    """Readings per patient of this run as the writer's 1-minute rollups count them."""
    return await _per_patient(
        settings,
        f'SELECT SUM("readings") FROM "rollup"."vitals_1m" WHERE "patient_id" =~ /^{prefix}-/ '
        'GROUP BY "patient_id"',
    )


async def _per_patient(settings: Settings, influxql: str) -> dict[str, int]:
    """The query's one value per `patient_id` group, as an int ({} while InfluxDB does not answer)."""
    async with InfluxClient(settings, role="reader") as client:
        try:
            series = await client.query(influxql)
        except InfluxUnavailable:
            return {}
    return {s["tags"]["patient_id"]: int(s["values"][0][1]) for s in series}


async def wait_for_rollups(
    settings: Settings, prefix: str, expected: dict[str, int], timeout: float
) -> dict[str, int]:
    """Poll until the rollups count `expected` readings of each patient, or the deadline."""
    return await _poll_counts(lambda: rollup_counts(settings, prefix), lambda c: c == expected, timeout)


async def wait_for_counts(
    settings: Settings, prefix: str, expected: dict[str, int], timeout: float
) -> dict[str, int]:
    """Poll until InfluxDB holds the expected number of readings of each patient, or the deadline."""
    return await _poll_counts(
        lambda: vitals_counts(settings, prefix),
        lambda c: all(c.get(p, 0) >= n for p, n in expected.items()),
        timeout,
    )


async def _poll_counts(
    fetch: Callable[[], Awaitable[dict[str, int]]], done: Callable[[dict[str, int]], bool], timeout: float
) -> dict[str, int]:
    """The counts once `done` holds, or the last counts at the deadline (for the failure message)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await fetch()
        if done(counts) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(1.0)


async def missing_readings(settings: Settings, sent: list[Sent], counts: dict[str, int]) -> str:
    """For a failed count: each acked reading InfluxDB lacks, its time, and whether it is on the
    events topic (lost by the broker) or not (lost before it), and what the writer logged."""
    short = [p for p, n in expected_counts(sent).items() if counts.get(p, 0) < n]
    lines: list[str] = []
    async with InfluxClient(settings, role="reader") as client:
        for patient in short:
            series = await client.query(f'SELECT "spo2" FROM "vitals" WHERE "patient_id" = \'{patient}\'')
            stored = {int(row[0]) for s in series for row in s.get("values", [])}
            for record in sent:
                at = epoch_ms(datetime.fromisoformat(record.ts.replace("Z", "+00:00")))
                if record.patient == patient and at not in stored:
                    lines.append(f"{patient} {record.ts} ({record.phase}) not in InfluxDB")
    on_topic = {
        (item["patient_id"], item["ts"]) for item in (json.loads(raw) for raw in await _read_events(settings))
    }
    return "\n".join(
        f"{line}; on {EVENTS_TOPIC}: {(line.split()[0], line.split()[1]) in on_topic}" for line in lines
    )


async def _read_events(settings: Settings) -> list[bytes]:
    from tests.integration.faults.conftest import read_topic

    return await read_topic(settings, EVENTS_TOPIC)


def expected_counts(sent: list[Sent]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in sent:
        counts[record.patient] = counts.get(record.patient, 0) + 1
    return counts


def log_lines(worker: WorkerProcess, *needles: str) -> list[str]:
    """Lines of the worker's log that contain any of `needles` (case-insensitive)."""
    text = worker.log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if any(n.lower() in line.lower() for n in needles)]
