"""What every Faust worker reports: dead letters and the consumer lag of its assigned partitions."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

DEAD_LETTERS = Counter(
    "ivigwatch_dead_letters",
    "Records sent to ivig.deadletter.v1, by the stage that refused them",
    ["stage"],
)
CONSUMER_LAG = Gauge(
    "ivigwatch_consumer_lag",
    "Records of an assigned partition not processed yet by this worker (end offset minus position)",
    ["topic", "partition"],
)


def set_consumer_lag(lags: Iterable[tuple[str, int, int]]) -> None:
    """Replace the lag figures with (topic, partition, lag) of the partitions assigned now."""
    CONSUMER_LAG.clear()  # a revoked partition is no longer this worker's
    for topic, partition, lag in lags:
        CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(lag)
