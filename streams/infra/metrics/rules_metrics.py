"""The rules worker's instruments: records taken, alerts and pages sent, how fast, offsets skipped."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from streams.infra.metrics.buckets import LATENCY_BUCKETS, WORK_BUCKETS

EVENTS_PROCESSED = Counter(
    "ivigwatch_events_processed",
    "Valid events of ivig.events.v1 the rules evaluated, by event type",
    ["type"],
)
ACTIONS_PROCESSED = Counter(
    "ivigwatch_nurse_actions_processed",
    "Valid nurse actions of ivig.actions.v1 the rules applied, by action type",
    ["type"],
)
ALERTS_SENT = Counter(
    "ivigwatch_alerts_sent",
    "Alert messages handed to the producer for ivig.alerts.v1, by condition, severity and status",
    ["condition", "severity", "status"],
)
PAGES_SENT = Counter(
    "ivigwatch_pages_sent",
    "Alert messages sent with page: true (a nurse must act), by severity",
    ["severity"],
)
ALERT_LATENCY = Histogram(
    "ivigwatch_alert_latency_seconds",
    "From an event's arrival on ivig.events.v1 (its record timestamp) to the alert it caused handed "
    "to the producer, by severity (timer-fired alerts have no event and are not counted)",
    ["severity"],
    buckets=LATENCY_BUCKETS,
)
CHECKPOINT_SECONDS = Histogram(
    "ivigwatch_rules_checkpoint_seconds",
    "One checkpoint: wait for the broker's acks, store the changed states, ack the records",
    buckets=WORK_BUCKETS,
)
SKIPPED_OFFSETS = Counter(
    "ivigwatch_rules_skipped_offsets",
    "Offsets of ivig.events.v1 never delivered to the rules (lost events: should stay 0)",
)
