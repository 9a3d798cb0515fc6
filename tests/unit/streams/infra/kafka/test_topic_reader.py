"""A reader's stop never keeps its process from exiting: a consumer that hangs on close is left
behind with a warning naming the reader, and one that closes is awaited."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.infra.kafka import topic_reader
from streams.infra.kafka.topic_reader import TopicReader
from streams.infra.settings import Settings


class _Consumer:
    def __init__(self, hangs: bool) -> None:
        self.hangs, self.closed = hangs, False

    async def stop(self) -> None:
        if self.hangs:
            await asyncio.Event().wait()  # never set
        self.closed = True


def _reader(consumer: _Consumer) -> TopicReader:
    reader = TopicReader(Settings(), ("t",), lambda topic, value: None, name="test-reader")
    reader.consumer = consumer  # type: ignore[assignment]
    return reader


async def test_a_consumer_hanging_on_close_is_left_behind_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(topic_reader, "STOP_SECONDS", 0.05)
    reader = _reader(_Consumer(hangs=True))
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(reader.stop(), 5)
    assert "test-reader: its Kafka consumer did not stop within" in caplog.text


async def test_a_reading_task_is_cancelled_and_a_closing_consumer_awaited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = _Consumer(hangs=False)
    reader = _reader(consumer)
    reader.task = asyncio.create_task(asyncio.Event().wait())
    with caplog.at_level(logging.WARNING):
        await reader.stop()
    assert reader.task.cancelled()
    assert consumer.closed
    assert "did not stop" not in caplog.text
