"""What `RulesRuntime.consume` reads and sends to, without a broker, for the in-process benches:
records as Faust gives them, a stream that yields them and counts acks, topics that acknowledge
every send at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from agents.live_clock import SimulatedClock
from agents.rules.loader import load_rules
from agents.runtime import RulesRuntime


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: float | None = None


@dataclass
class Record:
    key: bytes
    value: bytes
    message: Message


class RecordStream:
    """`noack().events()` and `ack()`."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records = records
        self.acked = 0

    def noack(self) -> RecordStream:
        return self

    async def events(self) -> AsyncIterator[Record]:
        for record in self.records:
            yield record

    async def ack(self, _record: Record) -> bool:
        self.acked += 1
        return True


class InstantTopic:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, key: bytes | None = None, value: bytes = b"", **_: object) -> asyncio.Future[None]:
        self.sent += 1
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def bench_runtime() -> RulesRuntime:
    """The rules worker's runtime with a dict for its table and instant topics, on event time."""
    return RulesRuntime(
        rules=load_rules(),
        table={},
        alerts_topic=InstantTopic(),
        deadletter_topic=InstantTopic(),
        patient_topic=InstantTopic(),
        clock=SimulatedClock(),
    )
