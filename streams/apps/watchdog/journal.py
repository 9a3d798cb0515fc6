"""The watchdog's memory lives in Kafka: its own last message on ivig.alerts.v1 and nurse actions on it.

Its messages are keyed `-`, so they all sit in one partition of each keyed topic (the producers'
murmur2 partitioner): at start the watchdog reads that partition of ivig.alerts.v1 to continue the
numbering and to know whether its alert is still open, and it follows that partition of
ivig.actions.v1 (from the start: acknowledgements sent while it was down count too).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from pydantic import ValidationError

from models.alerts import Alert, Condition
from models.events import NurseAction
from streams.apps.watchdog.messages import SYSTEM_ID, number_of
from streams.apps.watchdog.probes import partition_ids
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC
from streams.infra.settings import Settings

KEY = SYSTEM_ID.encode()


class JournalError(RuntimeError):
    """The watchdog's own history could not be read (it does not start rather than fire blind)."""


def key_partition(partitions: int) -> int:
    """The partition producers put key `-` in."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(KEY, every, every))


async def _assign_own_partition(settings: Settings, consumer: Any, topic: str) -> TopicPartition:
    admin = kafka_clients.admin(settings, client_id="ivigwatch-watchdog")
    await admin.start()
    try:
        ids = await partition_ids(admin, topic)
    finally:
        await admin.close()
    if not ids:
        raise JournalError(f"topic {topic} does not exist yet")
    tp = TopicPartition(topic, key_partition(len(ids)))
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    return tp


async def last_own_alert(settings: Settings, within_seconds: float = 60.0) -> Alert | None:
    """The watchdog's latest `pipeline_stalled` message on ivig.alerts.v1, or None if it never sent one."""
    consumer = kafka_clients.consumer(settings, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = await _assign_own_partition(settings, consumer, ALERTS_TOPIC)
        end = (await consumer.end_offsets([tp]))[tp]
        last: Alert | None = None
        deadline = time.monotonic() + within_seconds
        while await consumer.position(tp) < end:
            if time.monotonic() > deadline:
                where = f"{ALERTS_TOPIC} partition {tp.partition}"
                raise JournalError(f"could not read {where} in {within_seconds:.0f} s")
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
            for record in batch.get(tp, []):
                last = _own_alert(record.key, record.value) or last
        return last
    finally:
        await consumer.stop()


def _own_alert(key: bytes | None, value: bytes | None) -> Alert | None:
    if key != KEY or not value:
        return None
    try:
        alert = Alert.model_validate_json(value)
    except ValidationError:
        return None
    ours = alert.condition is Condition.PIPELINE_STALLED and number_of(alert.alert_id) is not None
    return alert if ours else None


class ActionFollower:
    """Nurse actions on the watchdog's alerts, from the start of their partition of ivig.actions.v1."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = kafka_clients.consumer(settings, group_id=None, enable_auto_commit=False)
        self.settings = settings
        self.tp: TopicPartition | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.tp = await _assign_own_partition(self.settings, self.consumer, ACTIONS_TOPIC)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def poll(self) -> list[NurseAction]:
        """The actions arrived since the last poll (a failed fetch gives none: they come next time)."""
        try:
            async with asyncio.timeout(5.0):
                batch = await self.consumer.getmany(timeout_ms=50)
        except TimeoutError:
            return []
        found = []
        for records in batch.values():
            for record in records:
                if record.key != KEY or not record.value:
                    continue
                try:
                    action = NurseAction.model_validate_json(record.value)
                except ValidationError:
                    continue  # the rules worker dead-letters malformed actions
                if number_of(action.alert_id) is not None:
                    found.append(action)
        return found
