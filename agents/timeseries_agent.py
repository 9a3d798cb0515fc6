"""Writer agent: every valid event, alert and nurse action to InfluxDB, in batches.

Offsets advance only after InfluxDB accepted the batch: the batch comes from `noack_take` and its
events are acked by hand after the write. (`take_events` acks in a `finally`: a batch left by an
exception or a cancellation is acked once its generator is finalised, written or not.) While
InfluxDB is down the batch is retried with capped backoff; points carry event time, so a rewrite is
idempotent. A line InfluxDB refuses is dead-lettered (stage `write`) with its message's position.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from agents.deadletters import send_dead_letter
from agents.runtime import key_problem
from models.alerts import Alert
from models.parsing import InvalidMessage, parse_action, parse_event
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.influx_schema import ensure_schema, short
from streams.infra.sinks.influx.line_protocol import action_point, alert_point, event_point, to_line

log = logging.getLogger("ivigwatch.writer")


def line_for(topic: str, raw: bytes, key: bytes | None) -> str | None:
    """The line-protocol line of one message, or None for a message that breaks the contract
    (the rule worker dead-letters those, a wrong message key included; the writer only skips them,
    so InfluxDB never holds a reading the rules did not see)."""
    try:
        if topic == EVENTS_TOPIC:
            event = parse_event(raw)
            return None if key_problem(key, event.patient_id) else to_line(event_point(event))
        if topic == ALERTS_TOPIC:
            return to_line(alert_point(Alert.model_validate_json(raw)))
        if topic == ACTIONS_TOPIC:
            action = parse_action(raw)
            return None if key_problem(key, action.patient_id) else to_line(action_point(action))
    except (InvalidMessage, ValueError):
        return None
    return None


def register(app: faust.App, settings: Settings) -> None:
    client = InfluxClient(settings)
    source = app.topic(EVENTS_TOPIC, ALERTS_TOPIC, ACTIONS_TOPIC, partitions=settings.topic_partitions)
    deadletter = app.topic(DEADLETTER_TOPIC)
    counts = {"lines": 0, "skipped": 0, "rejected": 0, "batches": 0}

    async def write_timeseries(stream: Any) -> None:
        async for batch in stream.noack_take(
            settings.writer_batch_lines, within=settings.writer_flush_seconds
        ):
            lines: list[str] = []
            origin: dict[str, Any] = {}  # line -> the event it came from, for a refusal's position
            for event in batch:
                line = line_for(event.message.topic, event.value, event.key)
                if line is None:
                    counts["skipped"] += 1
                else:
                    lines.append(line)
                    origin[line] = event
            report = await client.write(lines)
            for line, reason in report.rejected:
                refused = origin[line]
                await send_dead_letter(
                    deadletter,
                    refused.value,
                    refused.key,
                    [f"(influxdb): {reason} [influx_rejected]"],
                    "write",
                    refused.message,
                )
            for event in batch:  # only now may the offsets be committed
                await stream.ack(event)
            counts["lines"] += report.written
            counts["rejected"] += len(report.rejected)
            counts["batches"] += 1

    async def prepare_database() -> None:
        try:
            for change in await ensure_schema(client, settings):  # database, retention, rollups
                log.info("InfluxDB: %s", short(change))
        except Exception as exc:  # noqa: BLE001 - writes retry on their own; this only logs
            if "not authorized" in str(exc) or "requires admin" in str(exc):
                # A writer with WRITE rights only (the secured stack): `stack up` / `influx setup` did it.
                log.info("database setup is left to the InfluxDB admin (`ivigwatch influx setup`)")
                return
            log.warning(
                "could not set up database %s (retention policies, rollups) yet: %s; "
                "`ivigwatch influx setup` does it with admin rights",
                settings.influx_db,
                exc,
            )

    app.task(prepare_database)
    app.agent(source, name="ivigwatch.write_timeseries")(write_timeseries)
    app.counts = counts  # shown on /healthz
