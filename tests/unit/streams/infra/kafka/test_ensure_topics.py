"""A broker that answers before it has registered itself (its metadata names no broker) is asked
again with a fresh client, for a bounded time; any other error is not retried."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError

from streams.infra.kafka import kafka_clients, topics
from streams.infra.kafka.topics import ALL_TOPICS, ensure_topics
from streams.infra.settings import Settings


class _Admin:
    def __init__(self, failure: Exception | None, created: list[str]) -> None:
        self.failure, self.created, self.closed = failure, created, False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    async def list_topics(self) -> list[str]:
        if self.failure is not None:
            raise self.failure
        return []

    async def create_topics(self, new: list[Any]) -> None:
        self.created.extend(t.name for t in new)

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"topic": name, "partitions": [0] * 8} for name in names]


def _admins(monkeypatch: pytest.MonkeyPatch, failures: list[Exception | None]) -> list[_Admin]:
    made: list[_Admin] = []
    created: list[str] = []

    def admin(settings: Settings, client_id: str) -> _Admin:
        made.append(_Admin(failures[len(made)], created))
        return made[-1]

    monkeypatch.setattr(kafka_clients, "admin", admin)
    monkeypatch.setattr(topics.asyncio, "sleep", _no_sleep)
    return made


async def _no_sleep(_: float) -> None:
    pass


async def test_a_broker_not_registered_yet_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _admins(monkeypatch, [NodeNotReadyError("no node"), NodeNotReadyError("no node"), None])
    assert await ensure_topics(Settings(topic_partitions=8)) == list(ALL_TOPICS)
    assert len(made) == 3 and all(a.closed for a in made)


async def test_it_gives_up_after_the_bounded_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _admins(monkeypatch, [NodeNotReadyError("no node")] * 3)
    monkeypatch.setattr(topics, "BROKER_REGISTERED_SECONDS", 0.0)
    with pytest.raises(NodeNotReadyError):
        await ensure_topics(Settings(topic_partitions=8))
    assert len(made) == 1 and made[0].closed


async def test_an_unreachable_broker_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _admins(monkeypatch, [KafkaConnectionError("down"), None])
    with pytest.raises(KafkaConnectionError):
        await ensure_topics(Settings(topic_partitions=8))
    assert len(made) == 1
