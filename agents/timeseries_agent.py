"""Writer agent: every valid event, alert and nurse action to the InfluxDB sink, in batches, and the
1-minute rollups of the batch's vitals (`rollup.vitals_1m`, computed here: no continuous query).

Offsets advance only after InfluxDB took the batch's raw points and then the rollup points of every
minute its readings fall in (a late reading rewrites its minute's point, computed from all the
minute holds: `streams/infra/sinks/influx/rollups.py`): the batch comes from `noack_take` and its
events are acked by hand after both writes. (`take_events` acks in a `finally`: a batch left by an
exception or a cancellation is acked once its generator is finalised, written or not.) While
InfluxDB is down the sink holds the batch and retries; points carry event time, so a rewrite is
idempotent. A line the sink refuses is dead-lettered (stage `write`) with its message's position.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from agents.deadletters import send_dead_letter
from models.events import Vitals
from models.parsing import arrival_time
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from streams.infra.metrics import writer_metrics as metrics
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.influx_schema import ensure_schema, short
from streams.infra.sinks.influx.influx_sink import InfluxSink
from streams.infra.sinks.influx.line_protocol import encode
from streams.infra.sinks.influx.rollup_writer import RollupWriter

log = logging.getLogger("ivigwatch.writer")


def register(app: faust.App, settings: Settings) -> None:
    sink = InfluxSink.from_settings(settings)
    source = app.topic(EVENTS_TOPIC, ALERTS_TOPIC, ACTIONS_TOPIC, partitions=settings.topic_partitions)
    deadletter = app.topic(DEADLETTER_TOPIC)
    # The writer user has WRITE only: minutes not held in memory are read back as the reader.
    rollups = RollupWriter(sink, InfluxClient(settings, role="reader"))
    counts = {"lines": 0, "skipped": 0, "rejected": 0, "batches": 0, "rollups": 0, "rollups_read_back": 0}
    max_skew = None if settings.simulated_clock else timedelta(minutes=settings.max_clock_skew_minutes)

    async def write_timeseries(stream: Any) -> None:
        async for batch in stream.noack_take(
            settings.writer_batch_lines, within=settings.writer_flush_seconds
        ):
            began = time.perf_counter()
            lines: list[str] = []
            origin: dict[str, Any] = {}  # line -> the event it came from, for a refusal's position
            readings: list[tuple[str, Vitals]] = []
            now = datetime.now(UTC)
            oldest = now
            for event in batch:
                message = event.message
                arrival = arrival_time(message.timestamp, now)
                oldest = min(oldest, arrival)
                encoded = encode(message.topic, event.value, event.key, arrival, max_skew)
                if encoded is None:
                    counts["skipped"] += 1
                    continue
                line, parsed = encoded
                lines.append(line)
                origin[line] = event
                if isinstance(parsed, Vitals):
                    readings.append((line, parsed))
            refused = await sink.write(lines)
            not_taken = {item.item for item in refused}
            rolled = await rollups.write([reading for line, reading in readings if line not in not_taken])
            for item in refused:
                came_from = origin[item.item]
                await send_dead_letter(
                    deadletter,
                    came_from.value,
                    came_from.key,
                    [f"(influxdb): {item.reason} [influx_rejected]"],
                    "write",
                    came_from.message,
                )
            for event in batch:  # only now may the offsets be committed
                await stream.ack(event)
            counts["lines"] += len(lines) - len(refused)
            counts["rejected"] += len(refused)
            counts["batches"] += 1
            counts["rollups"] += rolled.written
            counts["rollups_read_back"] += rolled.read_back
            skipped = len(batch) - len(lines)
            metrics.WRITER_RECORDS.labels(outcome="written").inc(len(lines) - len(refused))
            metrics.WRITER_RECORDS.labels(outcome="rejected").inc(len(refused))
            metrics.WRITER_RECORDS.labels(outcome="skipped").inc(skipped)
            metrics.WRITER_BATCH_SECONDS.observe(time.perf_counter() - began)
            metrics.WRITER_STORED_LATENCY.observe((datetime.now(UTC) - oldest).total_seconds())

    async def on_partitions_changed(*_: Any, **__: Any) -> None:
        # Another writer may now write (or have written) these sessions' minutes: read them back.
        rollups.book.forget()

    async def prepare_database() -> None:
        try:
            for change in await ensure_schema(sink.client, settings):  # database, retention policies
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

    app.on_partitions_revoked.connect(on_partitions_changed)
    app.on_partitions_assigned.connect(on_partitions_changed)
    app.task(prepare_database)
    app.agent(source, name="ivigwatch.write_timeseries")(write_timeseries)
    app.counts = counts  # shown on /healthz
