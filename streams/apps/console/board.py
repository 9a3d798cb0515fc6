"""The caseload board, live: `ivig.events.v1` read from its recent history (the post-infusion window
back) into a `Caseload`, drawn with the alert feed's open incidents, and pushed to the board's SSE
clients whenever it changes: on an event, on an alert or note, on a patient's limit or snooze, and
as time passes (minutes since the vitals, a set falling due, a limit or snooze expiring), checked
every `TICK_SECONDS`, at most once per `MIN_PUSH_SECONDS`.

Each push is the whole board (it is one row per patient on the caseload: small). Subscribers are the
alert feed's (`feed.Subscriber`): a client that cannot keep up is dropped and reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agents.live_clock import LiveClock, WallClock, live_clock
from models.events import Checkin, Event, Infusion, Profile, Vitals
from models.parsing import time_problem
from models.ruleset import RuleSet
from streams.apps.console.caseload import Caseload, board_json
from streams.apps.console.feed import Feed, Subscriber, fan_out
from streams.infra.kafka.topic_reader import TopicReader
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0
"""How often the board is redrawn with no event (its minutes move on)."""
MIN_PUSH_SECONDS = 1.0
"""At most one push per this long (a worn oximeter sends every second)."""
EVENTS = TypeAdapter[Event](Event)


class Board:
    """The caseload, the alert feed it reads incidents from, and the board's subscribers, with no
    Kafka: what `KafkaBoard` feeds, and unit tests use as it is."""

    def __init__(
        self,
        rules: RuleSet,
        alerts: Feed,
        clock: LiveClock | None = None,
        max_skew: timedelta | None = None,
    ) -> None:
        self.caseload = Caseload(rules)
        self.alerts = alerts
        self.clock = clock or WallClock()
        self.max_skew = max_skew
        """Events timed more than this ahead of the clock are left out (the rules dead-letter them)."""
        self.subscribers: set[Subscriber] = set()
        self.caught_up = asyncio.Event()
        self.dirty = asyncio.Event()
        self.sent: str | None = None
        self.task: asyncio.Task[None] | None = None

    @property
    def status(self) -> str:
        return "live" if self.caught_up.is_set() else "loading"

    def snapshot(self) -> dict[str, Any]:
        """The board now, and whether the event history is read yet (`status`)."""
        board = board_json(self.caseload, self.alerts.book, self.clock.now(), self.alerts.setting_actions)
        return {**board, "status": self.status}

    def subscribe(self) -> tuple[Subscriber, dict[str, Any]]:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        return subscriber, self.snapshot()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def close_subscribers(self) -> None:
        for subscriber in list(self.subscribers):
            self.subscribers.discard(subscriber)
            subscriber.dropped = True
            with contextlib.suppress(asyncio.QueueFull):
                subscriber.queue.put_nowait(None)

    def changed(self) -> None:
        self.dirty.set()

    def on_event(self, event: Event) -> None:
        if not isinstance(event, Infusion | Vitals | Profile | Checkin):
            return
        if self.max_skew is not None and time_problem(event.ts, self.clock.now(), self.max_skew):
            return
        self.clock.observe(event.ts)
        if self.caseload.apply(event):
            self.changed()

    async def start(self) -> None:
        self.alerts.listeners.append(self.changed)
        self.caught_up.set()
        self._start_pushing()

    def _start_pushing(self) -> None:
        self.task = asyncio.create_task(self._push(), name="console-board-push")

    async def stop(self) -> None:
        self.close_subscribers()
        with contextlib.suppress(ValueError):
            self.alerts.listeners.remove(self.changed)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _push(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):
                    await self.dirty.wait()
            self.dirty.clear()
            self.caseload.prune(self.clock.now())
            if self.subscribers:
                self.publish(json.dumps(self.snapshot(), separators=(",", ":")))
            await asyncio.sleep(MIN_PUSH_SECONDS)

    def publish(self, text: str) -> None:
        """Send the board to every subscriber, unless it is what they were sent last."""
        if text == self.sent:
            return
        self.sent = text
        fan_out(self.subscribers, text, "boards")


class KafkaBoard(Board):
    """Reads `ivig.events.v1` from the post-infusion window back (the rule file's post_late_days and
    twice its session timeout), with no consumer group: every console process builds its own board."""

    def __init__(self, settings: Settings, rules: RuleSet, alerts: Feed) -> None:
        skew = None if settings.simulated_clock else timedelta(minutes=settings.max_clock_skew_minutes)
        super().__init__(rules, alerts, live_clock(settings.simulated_clock), skew)
        self.reader = TopicReader(
            settings,
            (EVENTS_TOPIC,),
            self._take,
            name="console-board",
            since_hours=self.caseload.history_hours,
            client_id="ivigwatch-console-board",
            max_records=500,  # a batch is folded in one go: small ones keep the console answering
            caught_up=self.caught_up,
            on_caught_up=lambda: log.info(
                "event history read for the board: %d patients", len(self.caseload.patients)
            ),
        )
        self.invalid = 0

    async def start(self) -> None:
        """Connect (raises aiokafka's KafkaConnectionError when Kafka is unreachable) and start reading
        (the alert feed has made sure the topics exist)."""
        self.alerts.listeners.append(self.changed)
        await self.reader.start()
        self._start_pushing()

    async def stop(self) -> None:
        await super().stop()
        await self.reader.stop()

    def _take(self, topic: str, value: bytes) -> None:
        try:
            self.on_event(EVENTS.validate_json(value))
        except ValidationError:
            self.invalid += 1  # never logged with its content: it may hold patient values
