"""The console's and the gateway's instruments: HTTP requests, console logins, actions and streams,
events taken at the gateway."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from streams.infra.metrics.buckets import WORK_BUCKETS

HTTP_REQUESTS = Counter(
    "ivigwatch_http_requests",
    "HTTP requests answered, by server (console, gateway), route template, method and status",
    ["server", "route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "ivigwatch_http_request_seconds",
    "Time to answer an HTTP request (streams excluded), by server and route template",
    ["server", "route"],
    buckets=WORK_BUCKETS,
)
CONSOLE_LOGINS = Counter(
    "ivigwatch_console_logins",
    "Console login form posts, by outcome (ok, failed, throttled)",
    ["outcome"],
)
CONSOLE_ACTIONS = Counter(
    "ivigwatch_console_actions",
    "Nurse actions the console took, by kind (ack, resolve, note, limit, snooze) and outcome "
    "(sent; unsent: Kafka did not take it, 503)",
    ["kind", "outcome"],
)
CONSOLE_OPEN_STREAMS = Gauge(
    "ivigwatch_console_open_streams", "Live streams (SSE) open now: alert lists and caseload boards"
)
GATEWAY_EVENTS = Counter(
    "ivigwatch_gateway_events",
    "Events the gateway took from devices and apps, by outcome (produced, duplicate: dropped resend)",
    ["outcome"],
)
