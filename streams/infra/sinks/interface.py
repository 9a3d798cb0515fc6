"""The one shape of every sink the agents write to: InfluxDB, the pager webhook, and the next ones
(a FHIR server, an EHR inbox).

A sink takes a batch and answers only once every item is either taken or refused for good: it
retries what is worth retrying (a server that is down, a 503) by its own policy, and gives back the
items it will never take, each with a reason that names the rule and never a patient's value. The
agent over a sink is then the same few lines everywhere: encode, write, dead-letter the refused,
ack the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Refused(Generic[Item]):
    """An item the sink will never take, and why: `(sink): what happened [rule]`."""

    item: Item
    reason: str


class Sink(Protocol[Item]):
    """Write a batch, get back what was refused; close."""

    async def write(self, batch: Sequence[Item]) -> list[Refused[Item]]: ...

    async def close(self) -> None: ...
