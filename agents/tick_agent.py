"""Periodic tick with the wall clock, so silence is noticed and escalations fire without new events.

Each tick visits only the patients with a timer due by the live clock (the runtime's due index,
kept from the engine's `next_due` whenever a state is stored). After a rebalance or a table
recovery, and every RESCAN_EVERY_TICKS ticks, the index is rebuilt from every patient of the
partitions this worker owns.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from agents.rules.timers import next_due
from agents.runtime import RulesRuntime
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings

log = logging.getLogger("ivigwatch.rules")

RESCAN_EVERY_TICKS = 12
"""Besides after every rebalance and table recovery, the due index is rebuilt from every owned
patient this often (a minute at the default tick): a safety net, so no silent patient's stale-data
timer can be missed whatever the order of recovery and assignment."""
RESCAN_BATCH = 200
"""States parsed between two yields to the event loop during a rescan."""


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key bytes), as producers place the events."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def register(app: faust.App, runtime: RulesRuntime, settings: Settings) -> None:
    rescan = {"needed": True, "ticks": 0}

    async def on_partitions_changed(*_: Any, **__: Any) -> None:
        # A rebalance may move patients: their live state and due times are reloaded from the table.
        runtime.forget_all()
        rescan["needed"] = True

    async def on_recovered() -> None:
        rescan["needed"] = True  # states recovered from the changelog may have timers due

    async def on_partitions_assigned(*args: Any, **__: Any) -> None:
        await on_partitions_changed()
        assigned = args[-1] if args and isinstance(args[-1], set | frozenset) else set()
        events = [tp for tp in assigned if tp.topic == EVENTS_TOPIC]
        try:
            ends = await app.consumer.highwaters(*events) if events else {}
        except Exception as exc:  # noqa: BLE001 - without the ends, no partition is held back
            log.warning(
                "end offsets of the assigned partitions unknown (%s): no catch-up", type(exc).__name__
            )
            ends = {}
        runtime.catching_up({tp.partition: int(end) for tp, end in ends.items() if end is not None})

    app.on_partitions_revoked.connect(on_partitions_changed)
    app.on_partitions_assigned.connect(on_partitions_assigned)
    runtime.table.on_recover(on_recovered)

    async def tick() -> None:
        if app.rebalancing or app.consumer is None:
            return
        rescan["ticks"] += 1
        if rescan["needed"] or rescan["ticks"] % RESCAN_EVERY_TICKS == 0:
            rescan["needed"] = False
            active = {tp.partition for tp in app.consumer.assignment() if tp.topic == EVENTS_TOPIC}
            for n, key in enumerate(list(runtime.table.keys()), start=1):
                if partition_of(key, settings.topic_partitions) in active:
                    state = runtime.load(key.decode())
                    if state is not None:
                        runtime.due.update(state.patient_id, next_due(state, runtime.rules))
                if n % RESCAN_BATCH == 0:
                    await asyncio.sleep(0)  # let the agents run: a full scan parses every state
        if runtime.behind:
            # Faust's committed offsets (set when the partitions were assigned): a partition
            # assigned at its end has nothing to catch up.
            for tp, offset in list(getattr(app.consumer, "_committed_offset", {}).items()):
                if tp.topic == EVENTS_TOPIC:
                    runtime.committed_at(tp.partition, offset)
        if runtime.rescan_due:
            runtime.rescan_due = False
            rescan["needed"] = True
        for patient_id in runtime.due.pop_due(runtime.clock.now()):
            if (
                runtime.behind
                and partition_of(patient_id.encode(), settings.topic_partitions) in runtime.behind
            ):
                continue  # still catching up: its timers run on its own events (the rescan re-adds it)
            await runtime.tick(patient_id)

    app.timer(interval=settings.tick_seconds, name="ivigwatch.tick")(tick)
