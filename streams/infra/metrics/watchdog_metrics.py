"""The watchdog's instruments: the consumer groups' lag as it samples them, its own messages."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

GROUP_LAG = Gauge(
    "ivigwatch_group_lag",
    "Events of ivig.events.v1 a consumer group has not committed yet, per partition (watchdog's sample)",
    ["group", "partition"],
)
WATCHDOG_SAMPLES = Counter("ivigwatch_watchdog_samples", "Samples of lag and /healthz the watchdog took")
WATCHDOG_MESSAGES = Counter(
    "ivigwatch_watchdog_messages",
    "pipeline_stalled messages the watchdog sent, by status",
    ["status"],
)
WATCHDOG_SEND_ERRORS = Counter(
    "ivigwatch_watchdog_send_errors", "Tries to send a watchdog message that Kafka did not take"
)
WATCHDOG_KAFKA_UP = Gauge("ivigwatch_watchdog_kafka_up", "1 when the last sample could read the offsets")
