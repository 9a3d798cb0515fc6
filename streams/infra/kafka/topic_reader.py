"""Reading whole topics without a consumer group (no commits): every partition, from the start or
from some hours back, each record handed to a callback; `caught_up` is set once the end offsets
seen at start are reached. The console's alert feed and the gateway's patient feed read this way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from streams.infra.kafka import kafka_clients
from streams.infra.settings import Settings

log = logging.getLogger(__name__)

STOP_SECONDS = 3.0
"""How long a stop waits for the reading task and the consumer to close: a reader commits nothing,
so one that hangs is left behind (with a warning naming it) rather than hold up the rest of its
process's shutdown (the console stops two readers within its callers' 15 s). A task that also
ignores the cancellation `asyncio.run` sends at exit still holds the exit: this bounds the wait,
not that."""

Take = Callable[[str, bytes], None]
"""Called with each record's topic and value (an empty value for a tombstone)."""


class TopicReader:
    def __init__(
        self,
        settings: Settings,
        topics: tuple[str, ...],
        take: Take,
        *,
        name: str,
        since_hours: float | None = None,
        client_id: str | None = None,
        max_records: int = 2000,
        caught_up: asyncio.Event | None = None,
        on_caught_up: Callable[[], None] | None = None,
    ) -> None:
        self.settings, self.topics, self.take, self.name = settings, topics, take, name
        self.since_hours = since_hours
        """None: from the start of each partition; else from this many hours back."""
        self.client_id = client_id
        self.max_records = max_records
        self.caught_up = caught_up or asyncio.Event()
        self.on_caught_up = on_caught_up
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect (raises aiokafka's KafkaConnectionError when Kafka is unreachable) and start reading."""
        options: dict[str, Any] = {"client_id": self.client_id} if self.client_id else {}
        consumer = kafka_clients.consumer(
            self.settings,
            *self.topics,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **options,
        )
        try:
            await consumer.start()  # without a group, it is assigned every partition of the topics
        except BaseException:
            await consumer.stop()
            raise
        self.consumer = consumer
        assigned = list(consumer.assignment())
        ends = await consumer.end_offsets(assigned)
        if self.since_hours is not None:
            since_ms = int((time.time() - self.since_hours * 3600) * 1000)
            offsets = await consumer.offsets_for_times(dict.fromkeys(assigned, since_ms))
            for tp in assigned:
                found = offsets.get(tp)
                consumer.seek(tp, found.offset if found is not None else ends[tp])
        self.task = asyncio.create_task(self._run(consumer, ends), name=self.name)

    async def stop(self) -> None:
        """Stop reading and close the consumer, each within STOP_SECONDS."""
        if self.task is not None:
            self.task.cancel()
            await self._within(self.task, "its reading task")
        if self.consumer is not None:
            await self._within(asyncio.ensure_future(self.consumer.stop()), "its Kafka consumer")

    async def _within(self, task: asyncio.Future[None], what: str) -> None:
        done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
        if not done:
            log.warning("%s: %s did not stop within %.0f s; left behind", self.name, what, STOP_SECONDS)
            return
        with contextlib.suppress(asyncio.CancelledError):
            task.result()

    async def _run(self, consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> None:
        if not ends:
            self._reached_end()
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep reading: aiokafka reconnects by itself
                log.warning("%s: reading failed (%s); retrying", self.name, type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for tp, messages in batch.items():
                for message in messages:
                    self.take(tp.topic, message.value or b"")
            if not self.caught_up.is_set() and await _reached(consumer, ends):
                self._reached_end()

    def _reached_end(self) -> None:
        self.caught_up.set()
        if self.on_caught_up is not None:
            self.on_caught_up()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True
