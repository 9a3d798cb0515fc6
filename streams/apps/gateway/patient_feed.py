"""The gateway's reader of `ivig.patient.v1`: every partition, from `gateway_feed_hours` back (so
an app opened after a restart still sees today's messages), into the patient inbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from models.patient_messages import PatientMessage
from streams.apps.gateway.patient_inbox import PatientInbox
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import PATIENT_TOPIC
from streams.infra.settings import Settings

log = logging.getLogger(__name__)


class PatientFeed:
    """Reads the patient topic in the background (no consumer group: every gateway reads it all)."""

    def __init__(self, settings: Settings, inbox: PatientInbox) -> None:
        self.settings = settings
        self.inbox = inbox
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        """Set once the history was read up to the end offsets at start."""

    async def start(self) -> None:
        consumer = kafka_clients.consumer(
            self.settings, PATIENT_TOPIC, group_id=None, enable_auto_commit=False, auto_offset_reset="latest"
        )
        await consumer.start()  # without a group, it is assigned every partition of the topic
        self.consumer = consumer
        assigned = sorted(consumer.assignment())
        since_ms = int((time.time() - self.settings.gateway_feed_hours * 3600) * 1000)
        offsets = await consumer.offsets_for_times(dict.fromkeys(assigned, since_ms))
        ends = await consumer.end_offsets(assigned)
        for tp in assigned:
            found = offsets.get(tp)
            consumer.seek(tp, found.offset if found is not None else ends[tp])
        self.task = asyncio.create_task(self._run(ends), name="patient-feed")

    async def _run(self, ends: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None  # noqa: S101 - set by start()
        consumer = self.consumer
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            except KafkaError as exc:  # the consumer reconnects by itself; the next read retries
                log.warning("reading %s failed (%s); retrying", PATIENT_TOPIC, type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for records in batches.values():
                for record in records:
                    self._take(record.value)
            if not self.ready.is_set():
                positions = {tp: await consumer.position(tp) for tp in ends}
                if all(positions[tp] >= end for tp, end in ends.items()):
                    self.ready.set()

    def _take(self, raw: bytes | None) -> None:
        if raw is None:
            return
        try:
            self.inbox.add(PatientMessage.model_validate_json(raw))
        except ValidationError:
            log.warning("a message on %s is not a patient message; skipped", PATIENT_TOPIC)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.consumer is not None:
            await self.consumer.stop()
