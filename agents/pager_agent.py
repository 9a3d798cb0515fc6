"""Pager agent: urgent and critical alerts that are new or escalated, to the pager sink (a webhook).

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
from models.alerts import Alert
from models.errors import safe_errors
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC
from streams.infra.metrics import pager_metrics as metrics
from streams.infra.settings import Settings
from streams.infra.sinks.pager.page_encoding import page_key
from streams.infra.sinks.pager.pager_sink import PagerSink

log = logging.getLogger("ivigwatch.pager")


@dataclass
class PagerRuntime:
    table: Any
    deadletter_topic: Any
    sink: PagerSink
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    counts: dict[str, int] = field(
        default_factory=lambda: {"alerts": 0, "paged": 0, "skipped": 0, "retries": 0, "deadletter": 0}
    )

    def delivered(self, patient_id: str) -> dict[str, str]:
        raw = self.table.get(patient_id.encode())
        return {} if raw is None else dict(json.loads(raw))

    def remember(self, alert: Alert) -> None:
        delivered = self.delivered(alert.patient_id)
        delivered[page_key(alert)] = alert.ts.isoformat()
        # Assign back: a mutated value that is not re-assigned never reaches the changelog.
        self.table[alert.patient_id.encode()] = json.dumps(prune(delivered, self.clock())).encode()

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
        skip = page_decision(alert, self.clock(), self.delivered(alert.patient_id))
        if skip is not None:
            self.counts["skipped"] += 1
            metrics.PAGER_SKIPPED.labels(reason=skip.value).inc()
            if skip is Skip.ALREADY_PAGED:
                log.info("not paging %s %s again: already delivered", alert.alert_id, alert.status.value)
            return
        retries_before = self.sink.retries
        refused = await self.sink.write([alert])
        self.counts["retries"] = self.sink.retries
        metrics.PAGER_RETRIES.inc(self.sink.retries - retries_before)
        severity = alert.severity.value
        if not refused:
            self.remember(alert)
            self.counts["paged"] += 1
            metrics.PAGER_DELIVERIES.labels(severity=severity, outcome="delivered").inc()
            record_ts = getattr(message, "timestamp", None)
            if isinstance(record_ts, int | float) and record_ts:
                metrics.PAGE_LATENCY.labels(severity=severity).observe(max(0.0, time.time() - record_ts))
            return
        metrics.PAGER_DELIVERIES.labels(severity=severity, outcome="failed").inc()
        await self.dead_letter(raw, key, [refused[0].reason], message)

    async def dead_letter(self, raw: bytes, key: bytes | None, errors: list[str], message: Any) -> None:
        await send_dead_letter(self.deadletter_topic, raw, key, errors, "page", message)
        self.counts["deadletter"] += 1


def register(app: faust.App, settings: Settings) -> PagerRuntime:
    sink = PagerSink.from_settings(settings)
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
    )
    alerts_topic = app.topic(ALERTS_TOPIC, partitions=settings.topic_partitions)

    async def page_alerts(stream: Any) -> None:
        try:
            await runtime.consume(stream)
        finally:
            await sink.close()

    app.agent(alerts_topic, name="ivigwatch.page_alerts")(page_alerts)
    app.runtime = runtime  # for tests
    app.counts = runtime.counts  # shown on /healthz
    return runtime
