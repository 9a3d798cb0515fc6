"""Send a message that cannot be used to `ivig.deadletter.v1`, with its reason and source position."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from models.deadletter import DeadLetter, SourcePosition
from streams.infra.metrics.worker_metrics import DEAD_LETTERS

log = logging.getLogger("ivigwatch.deadletter")


async def send_dead_letter(
    topic: Any, raw: bytes, key: bytes | None, errors: list[str], stage: str, message: Any
) -> None:
    """Hand the record to the producer without waiting for the broker's ack.

    The source offset is still committed only after: Faust flushes the producer (every pending
    send acked or failed) before it commits offsets. Waiting for each ack here cost a broker round
    trip per refused message (~100-200/s on the 2-core machine), so a flood of bad input held every
    valid event behind it for minutes. A failed delivery is logged with the position.
    The log lines name the position and the reasons (field and rule), never the message's values."""
    record = DeadLetter.of(
        raw,
        errors,
        stage,
        SourcePosition(topic=message.topic, partition=message.partition, offset=message.offset),
        datetime.now(UTC),
    )
    where = f"{message.topic}[{message.partition}]@{message.offset}"
    fut = await topic.send(key=key, value=record.model_dump_json().encode())
    fut.add_done_callback(lambda done: _report_failure(done, where))
    DEAD_LETTERS.labels(stage=stage).inc()
    log.warning("dead-lettered %s: %s", where, "; ".join(record.errors))


def _report_failure(done: asyncio.Future[Any], where: str) -> None:
    if done.cancelled() or done.exception() is not None:
        reason = "cancelled" if done.cancelled() else type(done.exception()).__name__
        log.error("could not dead-letter %s: %s", where, reason)
