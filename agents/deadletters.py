"""Send a message that cannot be used to `ivig.deadletter.v1`, with its reason and source position."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from models.deadletter import DeadLetter, SourcePosition

log = logging.getLogger("ivigwatch.deadletter")


async def send_dead_letter(
    topic: Any, raw: bytes, key: bytes | None, errors: list[str], stage: str, message: Any
) -> None:
    """Send the record and wait for the broker's ack, so the source offset is committed only after.
    The log line names the position and the reasons (field and rule), never the message's values."""
    record = DeadLetter.of(
        raw,
        errors,
        stage,
        SourcePosition(topic=message.topic, partition=message.partition, offset=message.offset),
        datetime.now(UTC),
    )
    fut = await topic.send(key=key, value=record.model_dump_json().encode())
    await fut
    log.warning(
        "dead-lettered %s[%d]@%d: %s", message.topic, message.partition, message.offset, "; ".join(errors)
    )
