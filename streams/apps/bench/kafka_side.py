"""The bench's Kafka clients: the alert probe (acting as the nurse), the lag meter and the raw
consume baseline. Every client comes from `streams.infra.kafka.kafka_clients`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings

BREACH_CONDITION = "hypoxemia"
"""The condition the workload's breaching readings raise (and nothing else does)."""


class AlertProbe:
    """Reads `ivig.alerts.v1` from its end. Latency of a firing alert = its arrival here minus its
    `ts`, which is the triggering reading's send time. Each bench alert is resolved at once, as a
    nurse would, so the patient's next breach fires it again."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self.settings = settings
        self.prefix = prefix
        self.latencies: list[tuple[float, float]] = []
        """(reading send time as epoch seconds, latency ms)"""
        self.other = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.consumer = kafka_clients.consumer(
            self.settings, ALERTS_TOPIC, group_id=None, auto_offset_reset="latest"
        )
        self.producer = kafka_clients.producer(self.settings, linger_ms=5, client_id="ivigwatch-bench-nurse")
        await self.consumer.start()
        await self.producer.start()
        await self.consumer.seek_to_end()
        for tp in self.consumer.assignment():
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            arrived = time.time()
            for records in batch.values():
                for record in records:
                    await self._seen(json.loads(record.value), arrived)

    async def _seen(self, alert: dict[str, Any], arrived: float) -> None:
        if not str(alert.get("patient_id", "")).startswith(self.prefix):
            return
        if alert.get("status") != "firing" or alert.get("condition") != BREACH_CONDITION:
            self.other += 1
            return
        sent = datetime.fromisoformat(alert["ts"]).timestamp()
        self.latencies.append((sent, (arrived - sent) * 1000))
        action = {
            "type": "resolve",
            "alert_id": alert["alert_id"],
            "patient_id": alert["patient_id"],
            "by": "bench-nurse",
            "ts": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        await self.producer.send(ACTIONS_TOPIC, json.dumps(action).encode(), key=alert["patient_id"].encode())

    def between(self, began: float, ended: float) -> list[float]:
        """Latencies (ms) of the alerts whose reading was sent in [began, ended) (epoch seconds)."""
        return [ms for sent, ms in self.latencies if began <= sent < ended]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()
        await self.producer.stop()


class LagMeter:
    """Messages of `ivig.events.v1` not yet committed by a consumer group."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self) -> None:
        self.admin = kafka_clients.admin(self.settings, client_id="ivigwatch-bench-lag")
        self.consumer = kafka_clients.consumer(self.settings, group_id=None)
        await self.admin.start()
        await self.consumer.start()
        self.partitions = await event_partitions(self.consumer)

    async def end(self) -> int:
        """Messages in the topic (sum of end offsets)."""
        ends = await self.consumer.end_offsets(self.partitions)
        return int(sum(ends.values()))

    async def committed(self, group: str) -> int:
        offsets = await self.admin.list_consumer_group_offsets(group, partitions=self.partitions)
        return int(sum(max(o.offset, 0) for o in offsets.values()))

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()


async def event_partitions(consumer: Any) -> list[TopicPartition]:
    """The partitions of `ivig.events.v1`, fetching metadata first if the client has none yet."""
    partitions = consumer.partitions_for_topic(EVENTS_TOPIC)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(EVENTS_TOPIC) or set()
    return [TopicPartition(EVENTS_TOPIC, p) for p in sorted(partitions)]


async def raw_consume_rate(settings: Settings, seconds: float, limit: int) -> tuple[int, float]:
    """The baseline: a bare aiokafka loop over `ivig.events.v1` from the start (getmany + JSON
    parse only). Returns (messages, seconds)."""
    consumer = kafka_clients.consumer(
        settings, group_id=None, enable_auto_commit=False, max_partition_fetch_bytes=4 * 2**20
    )
    await consumer.start()
    try:
        partitions = await event_partitions(consumer)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        count, began, deadline = 0, 0.0, time.monotonic() + seconds + 10
        while count < limit and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            if not batch:
                if count:
                    break  # read to the end
                continue
            if not count:
                began, deadline = time.monotonic(), time.monotonic() + seconds  # from the first record
            for records in batch.values():
                for record in records:
                    json.loads(record.value)
                count += len(records)
        return count, time.monotonic() - began
    finally:
        await consumer.stop()
