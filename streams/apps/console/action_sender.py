"""Nurse actions from the console to `ivig.actions.v1`, keyed by patient_id (the lifecycle agent's input)."""

from __future__ import annotations

from typing import Protocol

from aiokafka.errors import KafkaError

from models.events import NurseAction
from streams.infra.kafka.nurse_actions import ActionProducer
from streams.infra.settings import Settings


class ActionNotSent(RuntimeError):
    """The broker did not take the action: the nurse must be told, and may try again."""


class ActionSink(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, action: NurseAction) -> None: ...


class KafkaActions:
    """Produces each action and waits until the broker has it (acks=all) before the console answers;
    the same producer as `ivigwatch ack/resolve` (streams.infra.kafka.nurse_actions)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: ActionProducer | None = None

    async def start(self) -> None:
        """Raises aiokafka's KafkaConnectionError when Kafka is unreachable."""
        producer = ActionProducer(self.settings)
        await producer.start()
        self.producer = producer

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None

    async def send(self, action: NurseAction) -> None:
        if self.producer is None:
            raise ActionNotSent("the console is not connected to Kafka yet; try again")
        try:
            await self.producer.send(action)
        except KafkaError as exc:
            raise ActionNotSent(f"the action was not sent ({type(exc).__name__}); try again") from None
