"""Periodic tick with the wall clock, so silence is noticed and escalations fire without new events."""

from __future__ import annotations

import logging

import faust
from aiokafka.partitioner import murmur2

from agents.runtime import RulesRuntime
from streams.settings import Settings
from streams.topics import EVENTS_TOPIC

log = logging.getLogger("ivigwatch.rules")


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key bytes), as producers place the events."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def register(app: faust.App, runtime: RulesRuntime, settings: Settings) -> None:
    async def tick() -> None:
        if app.rebalancing or app.consumer is None:
            return
        active = {tp.partition for tp in app.consumer.assignment() if tp.topic == EVENTS_TOPIC}
        for key in list(runtime.table.keys()):
            if partition_of(key, settings.topic_partitions) in active:
                await runtime.tick(key.decode())

    app.timer(interval=settings.tick_seconds, name="ivigwatch.tick")(tick)
