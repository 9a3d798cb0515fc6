"""Nurse actions from the console to `ivig.actions.v1`, keyed by patient_id (the lifecycle agent's input)."""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from models.events import NurseAction
from streams.topics import ACTIONS_TOPIC


class ActionNotSent(RuntimeError):
    """The broker did not take the action: the nurse must be told, and may try again."""


class ActionSink(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, action: NurseAction) -> None: ...


def encode(action: NurseAction) -> tuple[bytes, bytes]:
    """(key, value) of an action's Kafka message: the patient id, and the contract's JSON."""
    return action.patient_id.encode(), action.model_dump_json(exclude_none=True).encode()


class KafkaActions:
    """Produces each action and waits until the broker has it (acks=all) before the console answers."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Raises aiokafka's KafkaConnectionError when Kafka is unreachable."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=10_000,
            client_id="ivigwatch-console",
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self.producer = producer

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def send(self, action: NurseAction) -> None:
        if self.producer is None:
            raise ActionNotSent("the console is not connected to Kafka yet; try again")
        key, value = encode(action)
        try:
            await self.producer.send_and_wait(ACTIONS_TOPIC, value, key=key)
        except KafkaError as exc:
            raise ActionNotSent(f"the action was not sent ({type(exc).__name__}); try again") from None
