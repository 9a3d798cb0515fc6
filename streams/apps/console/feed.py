"""The live alert feed: `ivig.alerts.v1` (and nurse notes on `ivig.actions.v1`) read from the beginning
into an `AlertBook`, each change fanned out to the console's SSE clients as one AlertView (a member's
message also sends its incident's view, which lists its members and what is new among them).

Subscribing takes the snapshot and registers the client in one step (no await between), so a client
misses nothing that arrives after its snapshot. A client that cannot keep up is dropped (its browser
reconnects and gets a fresh snapshot) rather than slowing everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka.errors import KafkaError
from pydantic import ValidationError

from models.alerts import Alert
from models.events import SETTING_TYPES, NurseAction
from streams.apps.console.alertbook import AlertBook, AlertEntry
from streams.apps.console.patient_settings import SettingActions
from streams.infra.kafka.topic_reader import TopicReader
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, ensure_topics
from streams.infra.settings import Settings

log = logging.getLogger(__name__)

QUEUE_SIZE = 2000


@dataclass(eq=False)
class Subscriber:
    """One SSE client: the JSON text of each AlertView to send, in order; None ends the stream."""

    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False


def fan_out(subscribers: set[Subscriber], text: str, what: str) -> None:
    """Queue `text` for every subscriber; one that fell QUEUE_SIZE `what` behind is dropped (its
    browser reconnects and gets a snapshot)."""
    for subscriber in list(subscribers):
        try:
            subscriber.queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("an SSE client fell %d %s behind; dropped (it will reconnect)", QUEUE_SIZE, what)
            subscriber.dropped = True
            subscribers.discard(subscriber)


class Feed(Protocol):
    """What the console needs of its feed (the Kafka one below, or a fake in unit tests)."""

    book: AlertBook
    caught_up: asyncio.Event
    listeners: list[Callable[[], None]]
    """Called after each change of the book, and each limit or snooze read (the caseload board redraws)."""
    setting_actions: SettingActions

    @property
    def status(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self) -> tuple[Subscriber, dict[str, Any]]: ...

    def unsubscribe(self, subscriber: Subscriber) -> None: ...

    def close_subscribers(self) -> None: ...


class Hub:
    """The alert book and its subscribers, with no Kafka: what `KafkaFeed` feeds, and fakes reuse."""

    def __init__(self, book: AlertBook | None = None) -> None:
        self.book = book or AlertBook()
        self.setting_actions = SettingActions()
        self.subscribers: set[Subscriber] = set()
        self.caught_up = asyncio.Event()
        self.closed = False
        self.listeners: list[Callable[[], None]] = []

    @property
    def status(self) -> str:
        if self.closed:
            return "stopped"
        return "live" if self.caught_up.is_set() else "loading"

    async def start(self) -> None:
        self.caught_up.set()

    async def stop(self) -> None:
        self.close_subscribers()

    def subscribe(self) -> tuple[Subscriber, dict[str, Any]]:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        return subscriber, self.book.snapshot()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def close_subscribers(self) -> None:
        self.closed = True
        for subscriber in list(self.subscribers):
            self._end(subscriber)

    def _end(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        subscriber.dropped = True
        with contextlib.suppress(asyncio.QueueFull):
            subscriber.queue.put_nowait(None)

    def publish(self, entry: AlertEntry) -> None:
        fan_out(self.subscribers, json.dumps(self.book.view(entry), separators=(",", ":")), "messages")

    def on_alert(self, alert: Alert) -> None:
        quiet = self.setting_actions.take_resolution(alert)  # the board shows the quiet it may start
        entry = self.book.apply(alert)
        if entry is not None:
            for changed in self.book.changed_with(entry):
                self.publish(changed)
        if entry is not None or quiet:
            self._tell()

    def on_action(self, action: NurseAction) -> None:
        if action.type in SETTING_TYPES:  # a patient's limit or snooze (v2), not an alert's
            self.setting_actions.take(action)
            self._tell()  # the board shows the patient's limits and snoozes in force
            return
        entry = self.book.note(action)
        if entry is not None:
            self.publish(entry)
            self._tell()

    def _tell(self) -> None:
        for listener in self.listeners:
            listener()


class KafkaFeed(Hub):
    """Reads the alerts and actions topics from the beginning, with no consumer group (no commits):
    every console process builds the whole picture itself."""

    def __init__(self, settings: Settings, book: AlertBook | None = None) -> None:
        super().__init__(book)
        self.settings = settings
        self.reader = TopicReader(
            settings,
            (ALERTS_TOPIC, ACTIONS_TOPIC),
            self._take,
            name="console-feed",
            client_id="ivigwatch-console",
            caught_up=self.caught_up,
            on_caught_up=lambda: log.info(
                "alert history read: %d open, %d recently resolved", *self._counts()
            ),
        )
        self.invalid = 0

    async def start(self) -> None:
        """Connect (raises aiokafka's KafkaConnectionError when Kafka is unreachable) and start reading."""
        try:
            await ensure_topics(self.settings)
        except KafkaError:
            raise
        except RuntimeError as exc:  # partition counts differ: the workers will say so; we only read
            log.warning("%s", exc)
        await self.reader.start()

    async def stop(self) -> None:
        self.close_subscribers()
        await self.reader.stop()

    def _take(self, topic: str, value: bytes) -> None:
        try:
            if topic == ALERTS_TOPIC:
                self.on_alert(Alert.model_validate_json(value))
            else:
                self.on_action(NurseAction.model_validate_json(value))
        except ValidationError:
            self.invalid += 1  # never logged with its content: it may hold patient values

    def _counts(self) -> tuple[int, int]:
        return len(self.book.open), len(self.book.resolved)
