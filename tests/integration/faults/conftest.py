"""Fault tests with several worker processes: a stack of its own, workers started, killed (-9),
stopped (SIGTERM) and restarted by name, a paced load generator, and the checks every fault test
makes afterwards (consumer lag, distinct points in InfluxDB, every alert on ivig.alerts.v1).

Every wait has a deadline and says what it waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aiokafka import TopicPartition

from agents.rules.loader import load_rules
from deploy import stack
from deploy.workers import (
    WorkerProcess,
    kill_worker,
    replica_settings,
    start_worker,
    stop_worker,
    wait_healthy,
)
from models.alerts import Alert, AlertStatus
from streams.apps.replay import replay
from streams.apps.scenarios import REACTION_SCENARIOS
from streams.apps.simulator import iter_session, merge_sessions, session_id_for
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC, ensure_topics, partition_of
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.line_protocol import line_for

JsonDict = dict[str, Any]
HEALTHY_TIMEOUT = 150.0
"""A (re)started worker must be healthy within this; a kill -9 adds the dead member's session."""
RULES = load_rules()


# --- workers ---------------------------------------------------------------------------------


@dataclass
class FaultStack:
    """A local Kafka and InfluxDB of their own and named workers (`rules-a`, `writer`, ...)."""

    settings: Settings
    workers: dict[str, WorkerProcess] = field(default_factory=dict)
    worker_settings: dict[str, Settings] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def start(self, name: str, role: str) -> WorkerProcess:
        """Start worker `name` of `role` with its own web port and datadir (same consumer group)."""
        if name not in self.worker_settings:
            self.worker_settings[name] = replica_settings(self.settings, role, name)
            self.roles[name] = role
        self.workers[name] = start_worker(
            role, self.worker_settings[name], log_name=f"{name}-{len(self.log)}"
        )
        self.note(f"started {name}")
        return self.workers[name]

    def wait_healthy(self, name: str) -> dict[str, Any]:
        health = wait_healthy(self.workers[name], timeout=HEALTHY_TIMEOUT)
        self.note(f"{name} healthy with {health['assigned_partitions']} partitions")
        return health

    def kill(self, name: str) -> None:
        """kill -9: no clean leave, no flush, no commit."""
        kill_worker(self.workers[name])
        self.note(f"killed -9 {name}")

    def stop(self, name: str) -> None:
        """SIGTERM: Faust commits and leaves the group."""
        code = stop_worker(self.workers[name])
        self.note(f"stopped {name} (exit {code})")

    def restart(self, name: str) -> dict[str, Any]:
        self.start(name, self.roles[name])
        return self.wait_healthy(name)

    def health(self, name: str) -> dict[str, Any] | None:
        return self.workers[name].health()

    def note(self, line: str) -> None:
        stamp = f"{time.monotonic():.1f}"
        self.log.append(f"[{stamp}] {line}")
        print(f"[faults {stamp}] {line}", flush=True)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{w.log_tail(15)}" for name, w in self.workers.items())


@contextlib.contextmanager
def fault_stack(settings: Settings, workers: dict[str, str]) -> Iterator[FaultStack]:
    """Kafka and InfluxDB of their own, the contract topics, and the workers {name: role}, healthy."""
    stack.up(settings, log=lambda line: None)
    faults = FaultStack(settings)
    try:
        asyncio.run(ensure_topics(settings))
        for name, role in workers.items():
            faults.start(name, role)
        for name in workers:
            faults.wait_healthy(name)
        yield faults
    finally:
        for worker in faults.workers.values():
            stop_worker(worker)
        stack.down(settings, log=lambda line: None)


async def healthy(faults: FaultStack, name: str) -> dict[str, Any]:
    return await asyncio.to_thread(faults.wait_healthy, name)


async def settled(faults: FaultStack, names: Iterable[str], timeout: float = 90.0) -> dict[str, int]:
    """Wait until the named workers all answer, none is rebalancing, and together they hold the
    same partitions for two samples in a row; returns {name: assigned partitions}."""
    deadline = time.monotonic() + timeout
    previous: dict[str, int] | None = None
    while time.monotonic() < deadline:
        answers = {name: faults.health(name) for name in names}
        if all(a and not a["rebalancing"] and a["assigned_partitions"] > 0 for a in answers.values()):
            now = {name: int(a["assigned_partitions"]) for name, a in answers.items() if a}
            if now == previous:
                return now
            previous = now
        else:
            previous = None
        await asyncio.sleep(1.0)
    raise AssertionError(f"workers {list(names)} did not settle in {timeout:.0f}s:\n{faults.logs()}")


# --- load ----------------------------------------------------------------------------------


def fault_plan(patients: int, start: datetime, seed: int, reaction_every: int = 5) -> Iterator[JsonDict]:
    """Simulated overlapping home infusions (the simulator's sessions, merged by event time), one
    in `reaction_every` with a reaction scenario so that every partition has patients with alerts.
    Patients `fx-00001` ...; starts spread over an hour, at most 10 s apart."""
    spread = min(3600.0, patients * 10.0)

    def sessions() -> Iterator[Any]:
        for i in range(patients):
            begins = start + timedelta(seconds=round(i * spread / patients))
            reaction = i % reaction_every == reaction_every - 1
            scenario = REACTION_SCENARIOS[(i // reaction_every) % len(REACTION_SCENARIOS)]
            name = scenario if reaction else "uneventful"
            patient_id = f"fx-{i + 1:05d}"
            yield partial(iter_session, name, patient_id, session_id_for(patient_id, begins), begins, seed)

    return merge_sessions(sessions())


def line(event: JsonDict) -> str:
    return json.dumps(event, separators=(",", ":"))


def patient_key(text: str) -> bytes:
    """The message key the contract gives a JSON event line: its patient_id."""
    return str(json.loads(text)["patient_id"]).encode()


async def produce_paced(
    settings: Settings, lines: list[str], rate: float, topic: str = EVENTS_TOPIC
) -> float:
    """Produce `lines` (JSON, keyed by patient_id) in order at about `rate` per second; returns the
    seconds it took. Each message is acknowledged by the broker before this returns."""
    producer = kafka_clients.producer(settings, linger_ms=5, acks="all")
    await producer.start()
    began = time.monotonic()
    pending: list[asyncio.Future[Any]] = []
    try:
        for n, text in enumerate(lines):
            due = began + n / rate
            if (delay := due - time.monotonic()) > 0.002:
                await asyncio.sleep(delay)
            key = patient_key(text)
            pending.append(await producer.send(topic, text.encode(), key=key))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending.clear()
        await producer.flush()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - began


# --- reading back ------------------------------------------------------------------------------


async def read_topic(settings: Settings, topic: str) -> list[bytes]:
    """Every message value on `topic` now, partition by partition, from the beginning."""
    consumer = kafka_clients.consumer(
        settings, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        # seek_to_beginning() can lose a race with assign()'s own reset: seek to explicit offsets
        for tp, first in (await consumer.beginning_offsets(parts)).items():
            consumer.seek(tp, first)
        values: list[bytes] = []
        deadline = time.monotonic() + 60
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"could not read {topic} to its end in 60s"
            batch = await consumer.getmany(timeout_ms=500)
            values.extend(r.value for records in batch.values() for r in records if r.value)
        return values
    finally:
        await consumer.stop()


async def read_alerts(settings: Settings) -> list[Alert]:
    return [Alert.model_validate_json(raw) for raw in await read_topic(settings, ALERTS_TOPIC)]


async def group_lag(settings: Settings, group: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """Messages not yet committed by consumer group `group`, per partition (end - committed)."""
    parts = [TopicPartition(t, p) for t in topics for p in range(settings.topic_partitions)]
    admin = kafka_clients.admin(settings)
    consumer = kafka_clients.consumer(settings, group_id=None, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
        await admin.close()
    lag = {}
    for tp in parts:
        offset = committed.get(tp)
        done = offset.offset if offset is not None and offset.offset >= 0 else 0
        lag[tp] = ends[tp] - done
    return lag


async def wait_lag_zero(
    settings: Settings, group: str, topics: Iterable[str], timeout: float = 120.0
) -> float:
    """Wait until `group` has committed every message of `topics`; returns the seconds it took."""
    topics = list(topics)
    began = time.monotonic()
    lag: dict[TopicPartition, int] = {}
    while time.monotonic() - began < timeout:
        lag = await group_lag(settings, group, topics)
        if not any(lag.values()):
            return time.monotonic() - began
        await asyncio.sleep(1.0)
    behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n}
    raise AssertionError(f"consumer group {group} still behind after {timeout:.0f}s: {behind}")


RULES_TOPICS = (EVENTS_TOPIC, ACTIONS_TOPIC)
WRITER_TOPICS = (EVENTS_TOPIC, ALERTS_TOPIC, ACTIONS_TOPIC)

_UNESCAPED_SPACE = re.compile(r"(?<!\\) ")


def point_key(protocol_line: str) -> tuple[str, str]:
    """(series key: measurement and tags, timestamp): what makes an InfluxDB point distinct."""
    return _UNESCAPED_SPACE.split(protocol_line, maxsplit=1)[0], protocol_line.rsplit(" ", 1)[1]


def expected_points(messages: Iterable[tuple[str, bytes, bytes]]) -> Counter[str]:
    """Distinct points per measurement that these (topic, key, value) messages must leave in InfluxDB."""
    keys = {
        point_key(text) for topic, key, raw in messages if (text := line_for(topic, raw, key)) is not None
    }
    return Counter(series.split(",", 1)[0] for series, _ in keys)


COUNT_FIELD = {
    "vitals": "on_oxygen",
    "symptoms": "reported",
    "infusion_events": "count",
    "profiles": "risk_factors",
    "alerts": "alert_id",
    "nurse_actions": "alert_id",
}
"""A field every point of the measurement has (streams/infra/sinks/influx/line_protocol.py), to count
its points."""


async def influx_points(settings: Settings, measurements: Iterable[str]) -> dict[str, int]:
    """Points per measurement in InfluxDB, over all time (the test data is in the future)."""
    where = "WHERE time >= '2000-01-01T00:00:00Z' AND time < '2200-01-01T00:00:00Z'"
    async with InfluxClient(settings, role="reader") as client:
        return {m: await client.count(m, COUNT_FIELD.get(m, "event_id"), where) for m in sorted(measurements)}


async def wait_points(settings: Settings, expected: Counter[str], timeout: float = 90.0) -> dict[str, int]:
    """Wait until InfluxDB holds at least the expected points per measurement; returns the counts."""
    deadline = time.monotonic() + timeout
    while True:
        found = await influx_points(settings, expected)
        if all(found[m] >= n for m, n in expected.items()) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


# --- live alerts against the replay --------------------------------------------------------------


def replay_alerts(lines: list[str]) -> list[Alert]:
    return [a for a in replay(lines, RULES) if isinstance(a, Alert)]


def _peaks(alerts: Iterable[Alert]) -> dict[tuple[str, str], dict[str, tuple[int, datetime]]]:
    """(session, condition) -> {"severity": (highest rank, first time reached), "level": ...}."""
    out: dict[tuple[str, str], dict[str, tuple[int, datetime]]] = {}
    for a in sorted(alerts, key=lambda a: a.ts):
        peaks = out.setdefault((a.session_id, a.condition.value), {})
        for name, value in (("severity", a.severity.rank), ("level", a.escalation_level)):
            if name not in peaks or value > peaks[name][0]:
                peaks[name] = (value, a.ts)
    return out


def _resolutions(alerts: Iterable[Alert]) -> dict[tuple[str, str], set[datetime]]:
    out: dict[tuple[str, str], set[datetime]] = defaultdict(set)
    for a in alerts:
        if a.status is AlertStatus.RESOLVED:
            out[(a.session_id, a.condition.value)].add(a.ts)
    return out


Distinct = tuple[str, str, str, int, str]


def distinct_messages(alerts: Iterable[Alert]) -> set[Distinct]:
    """Alert messages told apart as the contract does: a repeat of an identical message is one."""
    return {
        (a.alert_id, a.status.value, a.severity.value, a.escalation_level, a.ts.isoformat()) for a in alerts
    }


def message_difference(
    expected: Iterable[Alert], seen: Iterable[Alert]
) -> tuple[list[Distinct], list[Distinct]]:
    """(distinct messages the live run lacks, distinct messages it has that the replay does not)."""
    want, got = distinct_messages(expected), distinct_messages(seen)
    return sorted(want - got), sorted(got - want)


def missing_alerts(expected: Iterable[Alert], seen: Iterable[Alert]) -> list[str]:
    """What the replay raised that the live run did not, one line per (session, condition):

    - never sent as `firing` live;
    - live never reached the replay's highest severity, or its highest escalation level, unless
      live resolved that alert early (a resolution the replay does not have, before the replay
      reached that peak): a clock running ahead of the patient's readings may resolve an alert
      before a reading that would have kept it open, and that late reading may then not raise it
      again (the lifecycle's rule for reports before a resolution).
    """
    expected, seen = list(expected), list(seen)
    fired = {(a.session_id, a.condition.value) for a in seen if a.status is AlertStatus.FIRING}
    live_peaks, replay_resolved = _peaks(seen), _resolutions(expected)
    live_resolved = _resolutions(seen)
    problems = []
    for key, peaks in sorted(_peaks(expected).items()):
        name = f"{key[0]} {key[1]}"
        if key not in fired:
            problems.append(f"{name}: never sent as firing")
            continue
        early = live_resolved.get(key, set()) - replay_resolved.get(key, set())
        for what, (peak, at) in peaks.items():
            reached = live_peaks[key][what][0]
            if reached < peak and not any(r < at for r in early):
                problems.append(f"{name}: live {what} {reached}, replay {peak}, no early resolution")
    return problems


def firing_counts(alerts: Iterable[Alert]) -> Counter[tuple[str, str, bool]]:
    """How often each (alert id, severity, pending) was sent as `firing`: 1 normally, 2 for a
    redelivery (a lone reading's pending message and its confirmation count apart; an incident's
    own messages, which fire again when it is raised or reopened, are not counted)."""
    return Counter(
        (a.alert_id, a.severity.value, a.pending)
        for a in alerts
        if a.status is AlertStatus.FIRING and a.condition.value != "incident"
    )


def duplicates(alerts: list[Alert]) -> int:
    """Messages sent more than once (same id, status, severity, level and time)."""
    distinct = {(a.alert_id, a.status, a.severity, a.escalation_level, a.ts) for a in alerts}
    return len(alerts) - len(distinct)


def by_partition(patients: Iterable[str], partitions: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for p in sorted(set(patients)):
        out[partition_of(p.encode(), partitions)].append(p)
    return dict(out)


def seeded(seed: int) -> random.Random:
    return random.Random(seed)
