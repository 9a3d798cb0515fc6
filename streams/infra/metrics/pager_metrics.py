"""The pager bridge's instruments: deliveries and failures, retries, skips, alert-to-page time."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from streams.infra.metrics.buckets import LATENCY_BUCKETS

PAGER_DELIVERIES = Counter(
    "ivigwatch_pager_deliveries",
    "Pages the bridge tried to deliver, by severity and outcome (delivered; fallback: the roster's "
    "fallback contact got it; failed: dead-lettered)",
    ["severity", "outcome"],
)
PAGER_RETRIES = Counter("ivigwatch_pager_retries", "Webhook attempts beyond the first of a page")
PAGER_SKIPPED = Counter(
    "ivigwatch_pager_skipped",
    "Alert messages the bridge did not page, by reason (below_urgent, not_new, stale, already_paged)",
    ["reason"],
)
PAGE_LATENCY = Histogram(
    "ivigwatch_page_latency_seconds",
    "From an alert message's arrival on ivig.alerts.v1 to its page delivered, by severity",
    ["severity"],
    buckets=LATENCY_BUCKETS,
)
