"""The writer's instruments: records stored, refused or skipped, batch and InfluxDB write times."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from streams.infra.metrics.buckets import LATENCY_BUCKETS, WORK_BUCKETS

WRITER_RECORDS = Counter(
    "ivigwatch_writer_records",
    "Records the writer took: written to InfluxDB, rejected by it (dead-lettered) or skipped "
    "(not a point), by outcome",
    ["outcome"],
)
WRITER_BATCH_SECONDS = Histogram(
    "ivigwatch_writer_batch_seconds",
    "One batch: encode, write the points and the rollups, ack the records",
    buckets=WORK_BUCKETS,
)
WRITER_STORED_LATENCY = Histogram(
    "ivigwatch_writer_stored_latency_seconds",
    "Age of a batch's oldest record (since its arrival on Kafka) when the batch was stored",
    buckets=LATENCY_BUCKETS,
)
INFLUX_WRITES = Histogram(
    "ivigwatch_influx_write_seconds",
    "One write request to InfluxDB, by outcome (ok; rejected: some lines refused as bad data; "
    "unavailable: held and retried; error: anything else)",
    ["outcome"],
    buckets=WORK_BUCKETS,
)
