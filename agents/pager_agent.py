"""Pager agent: urgent and critical alerts that are new or escalated, to the pager sink (a webhook),
or, with a roster (IVIGWATCH_PAGER_ROSTER_FILE), to the person on call (`agents.roster_pager`).

Each update pages once: the update's key (alert id, status, escalation level, severity) goes into
the table `pager-delivered` after the sink delivered it, and a key already there is not sent again,
so a restarted worker, or an alert message the rules worker sent twice, never pages twice. The table
is keyed by patient_id and written while the alert is being processed, so its changelog partition is
the alert's partition (co-partitioned). The webhook also gets the key as an `Idempotency-Key`
header, for the one gap left: a crash between the 2xx and the table write.

A page the sink refuses (its retries spent, or a permanent answer) goes to `ivig.deadletter.v1`
with the reason (HTTP status or error kind, never a patient value) and the worker carries on. The
source offset is committed only after the page was delivered or dead-lettered (and the table write
flushed), so nothing is lost by a crash. Which messages page is `agents.page_policy`; delivery,
encoding and retries are the sink's (`streams.infra.sinks.pager`).

With a roster the same holds per recipient: the delivered key names whom the update reached
(`alert|status|level|severity|person`), which is also the Idempotency-Key, and an update delivered
to anyone is not sent again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
from pydantic import ValidationError

from agents.deadletters import send_dead_letter
from agents.page_policy import Skip, page_decision, prune
from agents.roster_file import load_roster
from agents.roster_pager import RosterPager
from models.alerts import Alert
from models.errors import safe_errors
from models.parsing import InvalidMessage, parse_action
from models.roster import Roster
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC
from streams.infra.metrics import pager_metrics as metrics
from streams.infra.settings import Settings
from streams.infra.sinks.pager.channel_sender import ChannelSender
from streams.infra.sinks.pager.page_encoding import page_key
from streams.infra.sinks.pager.pager_sink import PagerSink

log = logging.getLogger("ivigwatch.pager")


@dataclass
class PagerRuntime:
    table: Any
    deadletter_topic: Any
    sink: PagerSink | None
    """The one webhook (no roster)."""
    roster: RosterPager | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "alerts": 0,
            "paged": 0,
            "skipped": 0,
            "retries": 0,
            "deadletter": 0,
            "fallback": 0,
        }
    )

    def delivered(self, patient_id: str) -> dict[str, str]:
        raw = self.table.get(patient_id.encode())
        return {} if raw is None else dict(json.loads(raw))

    def remember(self, alert: Alert, keys: dict[str, str] | None = None) -> None:
        delivered = self.delivered(alert.patient_id)
        delivered |= {page_key(alert): alert.ts.isoformat()} if keys is None else keys
        self._store(alert.patient_id, delivered)

    def forget(self, patient_id: str, keys: list[str]) -> None:
        delivered = self.delivered(patient_id)
        self._store(patient_id, {k: v for k, v in delivered.items() if k not in keys})

    def _store(self, patient_id: str, delivered: dict[str, str]) -> None:
        # Assign back: a mutated value that is not re-assigned never reaches the changelog.
        self.table[patient_id.encode()] = json.dumps(prune(delivered, self.clock())).encode()

    async def consume(self, stream: Any) -> None:
        async for event in stream.events():
            await self.handle(event.value, event.key, event.message)

    async def handle(self, raw: bytes, key: bytes | None, message: Any) -> None:
        """One alert message: page it if it must be, and wait until it is delivered or dead-lettered."""
        try:
            alert = Alert.model_validate_json(raw)
        except ValidationError as exc:  # not an alert the pager could read: operators must see it
            await self.dead_letter(raw, key, safe_errors(exc), message)
            return
        self.counts["alerts"] += 1
        delivered = self.delivered(alert.patient_id)
        if self.roster is not None and (done := await self.roster.close_system_alerts(alert, delivered)):
            self.forget(alert.patient_id, done)
        skip = page_decision(alert, self.clock(), delivered)
        if skip is not None:
            self.counts["skipped"] += 1
            metrics.PAGER_SKIPPED.labels(reason=skip.value).inc()
            if skip is Skip.ALREADY_PAGED:
                log.info("not paging %s %s again: already delivered", alert.alert_id, alert.status.value)
            return
        if self.roster is not None:
            await self.page_roster(alert, raw, key, message)
            return
        assert self.sink is not None  # noqa: S101 - one of the two is set by register
        retries_before = self.sink.retries
        refused = await self.sink.write([alert])
        self.counts["retries"] = self.sink.retries
        metrics.PAGER_RETRIES.inc(self.sink.retries - retries_before)
        if not refused:
            self.remember(alert)
            self.counts["paged"] += 1
            self.count_delivery(alert, message, "delivered")
            return
        self.count_delivery(alert, message, "failed")
        await self.dead_letter(raw, key, [refused[0].reason], message)

    @staticmethod
    def count_delivery(alert: Alert, message: Any, outcome: str) -> None:
        """Metrics of one page: its outcome, and (when someone got it) the alert-to-page time."""
        severity = alert.severity.value
        metrics.PAGER_DELIVERIES.labels(severity=severity, outcome=outcome).inc()
        record_ts = getattr(message, "timestamp", None)
        if outcome != "failed" and isinstance(record_ts, int | float) and record_ts:
            metrics.PAGE_LATENCY.labels(severity=severity).observe(max(0.0, time.time() - record_ts))

    async def on_action(self, raw: bytes) -> None:
        """A nurse action: an ack or resolve of one of the pager's own system alerts resolves it.
        Anything else is the rules worker's (it dead-letters what it cannot read), so ignored here."""
        if self.roster is None:
            return
        try:
            action = parse_action(raw)
        except InvalidMessage:
            return
        done = await self.roster.dismiss(action, self.delivered(action.patient_id))
        if done:
            self.forget(action.patient_id, done)

    async def page_roster(self, alert: Alert, raw: bytes, key: bytes | None, message: Any) -> None:
        assert self.roster is not None  # noqa: S101 - the caller checked
        outcome = await self.roster.page(alert, self.clock())
        self.counts["retries"] += outcome.retries
        metrics.PAGER_RETRIES.inc(outcome.retries)
        self.counts["fallback"] += int(outcome.fallback)
        if outcome.remember:
            self.remember(alert, outcome.remember)
        if outcome.dead_letter:
            self.count_delivery(alert, message, "failed")
            await self.dead_letter(raw, key, outcome.dead_letter, message)
        else:
            self.counts["paged"] += 1
            self.count_delivery(alert, message, "fallback" if outcome.fallback else "delivered")

    async def dead_letter(self, raw: bytes, key: bytes | None, errors: list[str], message: Any) -> None:
        await send_dead_letter(self.deadletter_topic, raw, key, errors, "page", message)
        self.counts["deadletter"] += 1


def roster_from_settings(settings: Settings) -> Roster | None:
    """The configured roster (None: the one webhook); ValueError when it cannot be used."""
    if settings.pager_roster_file is None:
        return None
    roster = load_roster(settings.pager_roster_file)  # RosterFileError is a ValueError
    missing = [n for n in roster.secret_names() if not settings.pager_secret_values().get(n)]
    if missing:
        raise ValueError(
            f"cannot start the pager bridge: the roster's channels need the secrets {', '.join(missing)} "
            "in IVIGWATCH_PAGER_SECRETS (a JSON object of name -> value)"
        )
    return roster


def register(app: faust.App, settings: Settings) -> PagerRuntime:
    alerts_topic = app.topic(ALERTS_TOPIC, partitions=settings.topic_partitions)
    roster = roster_from_settings(settings)
    sink = None if roster is not None else PagerSink.from_settings(settings)
    paging = (
        None if roster is None else RosterPager(roster, ChannelSender.from_settings(settings), alerts_topic)
    )
    if roster is not None:
        log.info("paging by the roster %s version %s", roster.roster.id, roster.roster.version)
    runtime = PagerRuntime(
        table=app.Table(
            "pager-delivered",
            default=None,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,  # raw codec: the key bytes are the alerts' (patient_id)
        ),
        deadletter_topic=app.topic(DEADLETTER_TOPIC),
        sink=sink,
        roster=paging,
    )

    async def page_alerts(stream: Any) -> None:
        try:
            await runtime.consume(stream)
        finally:
            if sink is not None:
                await sink.close()
            if paging is not None:
                await paging.close()

    app.agent(alerts_topic, name="ivigwatch.page_alerts")(page_alerts)
    if paging is not None:  # a nurse may acknowledge the pager's own system alerts (co-partitioned)
        actions_topic = app.topic(ACTIONS_TOPIC, partitions=settings.topic_partitions)

        async def dismiss_system_alerts(stream: Any) -> None:
            async for event in stream.events():
                await runtime.on_action(event.value)

        app.agent(actions_topic, name="ivigwatch.pager_actions")(dismiss_system_alerts)
    app.runtime = runtime  # for tests
    app.counts = runtime.counts  # shown on /healthz
    return runtime
