"""The topics of the wire contract (v2) and their creation with the contract's partition count."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from aiokafka.admin import NewTopic
from aiokafka.errors import NodeNotReadyError, TopicAlreadyExistsError
from aiokafka.partitioner import murmur2

EVENTS_TOPIC = "ivig.events.v1"
ALERTS_TOPIC = "ivig.alerts.v1"
ACTIONS_TOPIC = "ivig.actions.v1"
DEADLETTER_TOPIC = "ivig.deadletter.v1"
PATIENT_TOPIC = "ivig.patient.v1"
"""Messages to the patient's app (contract v2)."""

KEYED_TOPICS = (EVENTS_TOPIC, ALERTS_TOPIC, ACTIONS_TOPIC, PATIENT_TOPIC)
"""Keyed by patient_id, co-partitioned with the per-patient tables: same partition count."""
ALL_TOPICS = (*KEYED_TOPICS, DEADLETTER_TOPIC)

if TYPE_CHECKING:
    from streams.infra.settings import Settings

log = logging.getLogger(__name__)


BROKER_REGISTERED_SECONDS = 30.0
"""How long `ensure_topics` waits for a broker that answers but lists no broker yet (one just
started accepts clients before it has registered itself: its metadata names no node to ask)."""


async def ensure_topics(settings: Settings, replication_factor: int = 1) -> list[str]:
    """Create any missing contract topic; returns the names created. Existing topics are left as
    they are, but a keyed topic with another partition count is an error (state would split)."""
    from streams.infra.kafka import kafka_clients

    deadline = time.monotonic() + BROKER_REGISTERED_SECONDS
    while True:
        admin = kafka_clients.admin(settings, client_id="ivigwatch-admin")
        await admin.start()  # a fresh client each try: it bootstraps the metadata again
        try:
            return await _ensure(admin, settings.topic_partitions, replication_factor)
        except NodeNotReadyError:
            if time.monotonic() >= deadline:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5)


async def _ensure(admin: Any, partitions: int, replication_factor: int) -> list[str]:
    existing = set(await admin.list_topics())
    missing = [name for name in ALL_TOPICS if name not in existing]
    if missing:
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
            await admin.create_topics([NewTopic(name, partitions, replication_factor) for name in missing])
    described = await admin.describe_topics(list(KEYED_TOPICS))
    counts = {t["topic"]: len(t["partitions"]) for t in described}
    wrong = {name: n for name, n in counts.items() if n and n != partitions}
    if wrong:
        raise RuntimeError(
            f"keyed topics must all have {partitions} partitions (IVIGWATCH_TOPIC_PARTITIONS); found {wrong}"
        )
    if missing:
        log.info("created topics %s with %d partitions", ", ".join(missing), partitions)
    return missing


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key bytes), as producers place the events."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions
