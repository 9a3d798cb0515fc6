"""The Faust app every worker runs: Faust's aiokafka transport with a consumer that hands out no
record fetched before a seek (see `seek_guard`), and its committed offsets for the agents."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.infra.kafka.seek_guard import Admit, SeekGuard

log = logging.getLogger("ivigwatch.kafka")


class GuardedConsumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    """Faust's aiokafka consumer, with the seek guard in front of its records."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seek_guard = SeekGuard()
        self._reseek: dict[TP, int] = {}

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.seek_guard.revoked(revoked)
        for tp in revoked:
            self._reseek.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # Before Faust resumes the partitions: nothing is handed out until they are sought and
        # Faust's flow is resumed.
        self.seek_guard.assigned(tp for tp in assigned if self.app.topics.acks_enabled_for(tp.topic))
        await super().on_partitions_assigned(assigned, generation_id)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        offsets: Mapping[TP, int] = await super().seek_to_committed()
        self.seek_guard.sought(
            {tp: offset for tp, offset in offsets.items() if self.app.topics.acks_enabled_for(tp.topic)}
        )
        return offsets

    def resume_flow(self) -> None:
        # Faust has just cleared its agents' queues: from now on what is handed out is processed.
        super().resume_flow()
        self._reseek.update(cast(dict[TP, int], self.seek_guard.resumed()))

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109 - Faust's
        reseek, self._reseek = self._reseek, {}
        for tp, offset in reseek.items():
            log.info(
                "%s[%d]: records fetched before the partition was released were dropped; read from %d",
                tp.topic,
                tp.partition,
                offset,
            )
            await self.seek(tp, offset)
        stale: set[Any] = set()
        async for tp, message in super().getmany(timeout):
            verdict = self.seek_guard.admit(tp, message.offset, stale)
            if verdict is Admit.KEEP:
                yield tp, message
            elif verdict is Admit.RESEEK:
                target = self.seek_guard.target(tp)
                log.warning(
                    "%s[%d]: records fetched before the seek to %s arrived after it; sought again",
                    tp.topic,
                    tp.partition,
                    target,
                )
                if target is not None:
                    await self.seek(tp, target)


class GuardedTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = GuardedConsumer


class WorkerApp(faust.App):  # type: ignore[misc]
    """A Faust app on the guarded transport."""

    def _new_transport(self) -> Any:
        return GuardedTransport(self.conf.broker_consumer, self)


def committed_offset(app: faust.App, topic: str, partition: int) -> int | None:
    """The group's committed offset of a partition as this worker's consumer last knew it (the
    next offset to read; None before the partition was assigned and sought)."""
    consumer = app.consumer
    offsets = getattr(consumer, "_committed_offset", None)  # Faust keeps it private
    if offsets is None:
        return None
    offset = offsets.get(TP(topic, partition))
    return int(offset) if offset is not None else None
