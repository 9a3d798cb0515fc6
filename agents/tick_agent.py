"""Periodic tick with the wall clock, so silence is noticed and escalations fire without new events.

Each tick visits, per events partition, only the patients with a timer due (the runtime's due
index, kept from the engine's `next_due` whenever a state is stored), by the partition's tick time:
the settled clock once it has nothing left to read, its own latest arrival while it lags. After a
rebalance or a table recovery, and every RESCAN_EVERY_TICKS ticks, the index is rebuilt from every
patient of the partitions this worker owns.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

from agents.rules.timers import known_next_due
from agents.runtime import RulesRuntime
from streams.infra.kafka.topics import EVENTS_TOPIC, partition_of
from streams.infra.settings import Settings

log = logging.getLogger("ivigwatch.rules")

RESCAN_EVERY_TICKS = 12
"""Besides after every rebalance and table recovery, the due index is rebuilt from every owned
patient this often (a minute at the default tick): a safety net, so no silent patient's stale-data
timer can be missed whatever the order of recovery and assignment."""
RESCAN_BATCH = 200
"""States parsed between two yields to the event loop during a rescan."""
SETTLE_SECONDS = 2.0
"""A partition with nothing left to read has its timers run to the clock as it read this many
wall-clock seconds ago: a record produced before then (to any partition) has reached its partition's
end offset by then, so no timer fires ahead of a reading already on its way (production timers fire
this much after their due time)."""


def register(app: faust.App, runtime: RulesRuntime, settings: Settings) -> None:
    rescan = {"needed": True, "ticks": 0}

    async def on_partitions_changed(*_: Any, **__: Any) -> None:
        # A rebalance may move patients: their live state and due times are reloaded from the table.
        runtime.forget_all()
        rescan["needed"] = True

    async def on_recovered() -> None:
        rescan["needed"] = True  # states recovered from the changelog may have timers due

    app.on_partitions_revoked.connect(on_partitions_changed)
    app.on_partitions_assigned.connect(on_partitions_changed)
    runtime.table.on_recover(on_recovered)

    async def tick() -> None:
        if app.rebalancing or app.consumer is None:
            return
        rescan["ticks"] += 1
        events = [tp for tp in app.consumer.assignment() if tp.topic == EVENTS_TOPIC]
        if rescan["needed"] or rescan["ticks"] % RESCAN_EVERY_TICKS == 0:
            rescan["needed"] = False
            active = {tp.partition for tp in events}
            for n, key in enumerate(list(runtime.table.keys()), start=1):
                partition = partition_of(key, settings.topic_partitions)
                if partition in active:
                    state = runtime.load(key.decode())
                    if state is not None:
                        runtime.due_index(partition).update(
                            state.patient_id, known_next_due(state, runtime.rules)
                        )
                if n % RESCAN_BATCH == 0:
                    await asyncio.sleep(0)  # let the agents run: a full scan parses every state
        settled = runtime.clock.settled(SETTLE_SECONDS)
        for tp in events:
            # Before this worker has processed anything of a partition, its committed offset says
            # where it stands.
            committed = runtime.committed_offset(tp.partition)
            now = runtime.tick_time(tp.partition, _end_offset(app, tp), committed, settled)
            if now is None:
                continue  # lagging and nothing delivered yet: its timers wait for its events
            for patient_id in runtime.due_index(tp.partition).pop_due(now):
                await runtime.tick(patient_id, tp.partition, now)

    app.timer(interval=settings.tick_seconds, name="ivigwatch.tick")(tick)


def _end_offset(app: faust.App, tp: Any) -> int | None:
    """The partition's end offset as the last fetch saw it (None before the first fetch)."""
    try:
        end = app.consumer.highwater(tp)
    except Exception:  # noqa: BLE001 - not known yet: the partition counts as lagging
        return None
    return int(end) if end is not None and end >= 0 else None
