"""Nurse actions on Kafka: look an alert up on `ivig.alerts.v1`, send an action to `ivig.actions.v1`.

Shared by `ivigwatch ack|resolve|note` and any other nurse tool. An action is keyed by the alert's
patient_id (contract: the actions topic is co-partitioned with the patient state), and is sent only
once the broker acknowledged it (acks=all), so "sent" means stored.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal

from aiokafka import TopicPartition
from pydantic import ValidationError

from models.alerts import Alert
from models.events import NurseAction
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC
from streams.infra.settings import Settings

ActionType = Literal["ack", "resolve", "note", "handover"]


class AlertNotFound(LookupError):
    """The alert is not on the alerts topic (or was not found within the time allowed)."""

    def __init__(self, alert_id: str, *, searched: int, gave_up_after: float | None = None) -> None:
        self.alert_id, self.searched, self.gave_up_after = alert_id, searched, gave_up_after
        message = f"no alert {alert_id} on {ALERTS_TOPIC}"
        if gave_up_after is not None:
            message += f" (stopped looking after {gave_up_after:g} s and {searched} messages)"
        super().__init__(message)


def new_action(
    kind: ActionType,
    alert_id: str,
    patient_id: str,
    by: str,
    note: str | None = None,
    ts: datetime | None = None,
    more: Mapping[str, str | None] | None = None,
) -> NurseAction:
    """A validated nurse action, timed now (UTC) unless `ts` is given; `more`: a handover's `to`, a
    resolution's `outcome` and `action_taken`. Raises ValidationError."""
    return NurseAction.model_validate(
        {
            "type": kind,
            "alert_id": alert_id,
            "patient_id": patient_id,
            "by": by,
            "ts": ts or datetime.now(UTC),
            "note": note or None,
            **{name: value for name, value in (more or {}).items() if value},
        }
    )


async def find_alert(settings: Settings, alert_id: str, within_seconds: float = 10.0) -> Alert:
    """The latest message of `alert_id` on `ivig.alerts.v1`, read from the beginning.

    Reads every partition up to its end offset at the time of the call, then the partition the
    alert was found in to its end (an alert's messages share its patient's partition), so the
    answer is the alert's latest state. Raises AlertNotFound when it is not there, or not found
    within `within_seconds`.
    """
    deadline = time.monotonic() + within_seconds
    consumer = kafka_clients.consumer(
        settings,
        ALERTS_TOPIC,  # without a group, the consumer is assigned every partition at start
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=max(1000, int(within_seconds * 1000)),
    )
    searched = 0
    try:
        await consumer.start()
        partitions = sorted(consumer.assignment())
        if not partitions:
            raise AlertNotFound(alert_id, searched=0)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        found: Alert | None = None
        while pending:
            if time.monotonic() > deadline:
                if found is not None:
                    return found  # the latest seen within the time allowed
                raise AlertNotFound(alert_id, searched=searched, gave_up_after=within_seconds)
            batch = await consumer.getmany(*pending, timeout_ms=200)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    searched += 1
                    if record.value is None or alert_id.encode() not in record.value:
                        continue
                    try:
                        alert = Alert.model_validate_json(record.value)
                    except ValidationError:
                        continue
                    if alert.alert_id == alert_id:
                        found = alert
                        pending = {tp}  # its later messages can only be in this partition
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        if found is None:
            raise AlertNotFound(alert_id, searched=searched)
        return found
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class SentAction:
    action: NurseAction
    partition: int
    offset: int


class ActionProducer:
    """A producer of nurse actions; `async with ActionProducer(settings) as p: await p.send(a)`.
    A long-lived tool (the console) keeps one open; the CLI opens one per command."""

    def __init__(self, settings: Settings, request_seconds: float = 10.0) -> None:
        self._producer = kafka_clients.producer(
            settings,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=max(1000, int(request_seconds * 1000)),
        )

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()  # release what a failed start opened
            raise

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> ActionProducer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def send(self, action: NurseAction) -> SentAction:
        """Send one action keyed by its patient_id; returns once the broker has stored it."""
        metadata = await self._producer.send_and_wait(
            ACTIONS_TOPIC,
            action.model_dump_json(exclude_none=True).encode(),
            key=action.patient_id.encode(),
        )
        return SentAction(action, metadata.partition, metadata.offset)


async def send_action(settings: Settings, action: NurseAction, request_seconds: float = 10.0) -> SentAction:
    """Send one action with a producer of its own (see ActionProducer)."""
    async with ActionProducer(settings, request_seconds) as producer:
        return await producer.send(action)
