"""One real stack per test run: local Kafka + InfluxDB on free ports, and both Faust workers.

These tests never skip: if a server cannot start, the run fails and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

from deploy import stack
from deploy.workers import WorkerProcess, start_worker, stop_worker, wait_healthy
from models.alerts import Alert
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ensure_topics
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient

METRICS_TOKEN = "live-stack-scrape-token-0123456789"


@dataclass
class Live:
    settings: Settings
    rules: WorkerProcess
    writer: WorkerProcess


def local_settings(state_dir: Path, **overrides: Any) -> Settings:
    """Settings of a local stack of its own: a temp state dir and free loopback ports."""
    return stack.isolated_settings(state_dir, **overrides)


@contextlib.contextmanager
def running_stack(settings: Settings, roles: tuple[str, ...]) -> Iterator[dict[str, WorkerProcess]]:
    """Kafka and InfluxDB of their own, the contract topics, and the named workers, healthy."""
    stack.up(settings, log=lambda line: None)
    workers: dict[str, WorkerProcess] = {}
    try:
        asyncio.run(ensure_topics(settings))
        for role in roles:
            workers[role] = start_worker(role, settings)
        for worker in workers.values():
            wait_healthy(worker, timeout=120)
        yield workers
    finally:
        for worker in workers.values():
            stop_worker(worker)
        stack.down(settings, log=lambda line: None)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    settings = local_settings(
        tmp_path_factory.mktemp("live"),
        influx_db="ivigwatch_test",
        tick_seconds=1.0,
        topic_partitions=4,
        metrics_token=SecretStr(METRICS_TOKEN),  # /metrics of the workers, console and gateway
    )
    with running_stack(settings, ("rules", "writer")) as workers:
        yield Live(settings, workers["rules"], workers["writer"])


class RulesStack:
    """A stack of its own with a rule worker that a test may restart."""

    def __init__(self, settings: Settings, workers: dict[str, WorkerProcess]) -> None:
        self.settings, self.workers = settings, workers

    def restart_rules(self) -> None:
        stop_worker(self.workers["rules"])
        self.workers["rules"] = start_worker("rules", self.settings)
        wait_healthy(self.workers["rules"], timeout=120)


def new_patient() -> str:
    return f"pt-{uuid.uuid4().hex[:10]}"


def event(patient: str, minutes: float, **fields: Any) -> dict[str, Any]:
    """An event of `patient` at wall-clock now + minutes (live rules run on max(wall, event time))."""
    ts = datetime.now(UTC) + timedelta(minutes=minutes)
    base: dict[str, Any] = {"patient_id": patient, "ts": ts.isoformat().replace("+00:00", "Z")}
    if fields.get("type") != "profile":
        base["session_id"] = f"{patient}-s1"
    return {**base, **fields}


async def produce(settings: Settings, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = kafka_clients.producer(settings, linger_ms=5)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def alert_key(alert: Alert) -> tuple[str, str, str, str, int, str]:
    """What two runs must agree on for an alert message: time, id, status, severity, level, rule."""
    return (
        alert.ts.isoformat(),
        alert.alert_id,
        alert.status.value,
        alert.severity.value,
        alert.escalation_level,
        alert.rule.id,
    )


def as_message(item: dict[str, Any]) -> tuple[bytes, bytes]:
    return item["patient_id"].encode(), json.dumps(item).encode()


@pytest.fixture
async def collector(live: Live) -> AsyncIterator[Collector]:
    found = Collector(live.settings)
    await found.start()
    yield found
    await found.stop()


class Collector:
    """Reads a topic from its end (set up before producing) and waits for matching messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumers: dict[str, AIOKafkaConsumer] = {}

    async def start(self) -> None:
        from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, PATIENT_TOPIC

        for topic in (ALERTS_TOPIC, DEADLETTER_TOPIC, PATIENT_TOPIC):
            consumer = kafka_clients.consumer(self.settings, topic, group_id=None, auto_offset_reset="latest")
            await consumer.start()
            await consumer.seek_to_end()
            for tp in consumer.assignment():
                await consumer.position(tp)  # pin the position now, before anything is produced
            self.consumers[topic] = consumer
        self.seen: dict[str, list[dict[str, Any]]] = {topic: [] for topic in self.consumers}

    async def stop(self) -> None:
        for consumer in self.consumers.values():
            await consumer.stop()

    async def wait_for(
        self, topic: str, predicate: Any, count: int = 1, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        consumer = self.consumers[topic]
        while True:
            matched = [m for m in self.seen[topic] if predicate(m)]
            if len(matched) >= count or time.monotonic() > deadline:
                return matched
            batch = await consumer.getmany(timeout_ms=250)
            for records in batch.values():
                self.seen[topic].extend(json.loads(r.value) for r in records if r.value)


async def wait_for_points(
    settings: Settings, influxql: str, count: int, timeout: float = 30.0
) -> list[list[Any]]:
    """Poll InfluxDB until the query returns at least `count` rows."""
    deadline = time.monotonic() + timeout
    async with InfluxClient(settings, role="reader") as client:
        while True:
            series = await client.query(influxql)
            rows = [row for s in series for row in s["values"]]
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            await asyncio.sleep(0.5)
