"""Pager bridge: urgent and critical alerts that are new or escalated, posted to a webhook.

An alert message pages when its severity is urgent or critical and its status is `firing` (a new
alert, or a severity raise, which the lifecycle sends as `firing` again) or `escalated`. Each update
pages once: the update's key (alert id, status, escalation level, severity) goes into the table
`pager-delivered` after the webhook answered 2xx, and a key already there is not sent again, so a
restarted worker, or an alert message the rules worker sent twice, never pages twice. The table is
keyed by patient_id and written while the alert is being processed, so its changelog partition is
the alert's partition (co-partitioned). The webhook also gets the key as an `Idempotency-Key`
header, for the one gap left: a crash between the 2xx and the table write.

Delivery retries timeouts, connection errors, 408, 429 and 5xx with capped exponential backoff, up
to IVIGWATCH_PAGER_MAX_ATTEMPTS attempts; any other answer (4xx, 3xx) is permanent. A page that
cannot be delivered goes to `ivig.deadletter.v1` with the reason (HTTP status or error kind, never
a patient value) and the worker carries on. The source offset is committed only after the page was
delivered or dead-lettered (and the table write flushed), so nothing is lost by a crash.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import faust
from pydantic import ValidationError

from agents.deadletters import send_dead_letter
from models.alerts import Alert, AlertStatus, Severity
from models.errors import safe_errors
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC
from streams.infra.settings import Settings

log = logging.getLogger("ivigwatch.pager")

PAGED_SEVERITIES = frozenset({Severity.URGENT, Severity.CRITICAL})
PAGED_STATUSES = frozenset({AlertStatus.FIRING, AlertStatus.ESCALATED})
MAX_PAGE_AGE = timedelta(hours=24)
"""An alert message timed longer ago than this is not paged (a first start on a topic with months of
history must not page all of it); its key is also forgotten after this long."""
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
RETRIED_HTTP_STATUSES = frozenset({408, 429})
"""Besides every 5xx: the receiver says 'later', not 'never'."""
MAX_KEYS_PER_PATIENT = 1000
"""Bound of a patient's delivered keys (far above what MAX_PAGE_AGE of alerts can hold)."""


# --- decision logic (pure) ---------------------------------------------------------------------


def page_key(alert: Alert) -> str:
    """The update an alert message is: a page is sent at most once per key."""
    return f"{alert.alert_id}|{alert.status.value}|{alert.escalation_level}|{alert.severity.value}"


class Skip(StrEnum):
    """Why an alert message does not page."""

    BELOW_URGENT = "below_urgent"
    NOT_NEW = "not_new"  # acknowledged or resolved: a nurse or the rules already closed the loop
    STALE = "stale"
    ALREADY_PAGED = "already_paged"


def page_decision(alert: Alert, now: datetime, delivered: Mapping[str, Any]) -> Skip | None:
    """None when this alert message must be paged, else why not."""
    if alert.severity not in PAGED_SEVERITIES:
        return Skip.BELOW_URGENT
    if alert.status not in PAGED_STATUSES:
        return Skip.NOT_NEW
    if alert.ts < now - MAX_PAGE_AGE:
        return Skip.STALE
    if page_key(alert) in delivered:
        return Skip.ALREADY_PAGED
    return None


def backoff_seconds(failed_attempts: int) -> float:
    """Wait before the next attempt after `failed_attempts` (>= 1) failures: 0.5, 1, 2, 4 ... <= 30 s."""
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failed_attempts - 1)))


class Outcome(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"  # try again later
    PERMANENT = "permanent"  # the receiver will not take it


def classify_status(status: int) -> Outcome:
    """What a webhook's HTTP status means for the page."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status >= 500 or status in RETRIED_HTTP_STATUSES:
        return Outcome.TRANSIENT
    return Outcome.PERMANENT


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (capped); None when absent or an HTTP date."""
    if value is None or not value.strip().isdigit():
        return None
    return float(min(int(value.strip()), BACKOFF_CAP_SECONDS))


def page_text(alert: Alert) -> str:
    """The short text a pager shows first."""
    if alert.status is AlertStatus.ESCALATED:
        what = f"ESCALATED (level {alert.escalation_level}, not acknowledged)"
    else:
        what = "NEW" if alert.escalation_level == 0 else f"RAISED (level {alert.escalation_level})"
    whose = "the alert pipeline itself" if alert.patient_id == "-" else f"patient {alert.patient_id}"
    return (
        f"{alert.severity.value.upper()} {what}: {alert.title} - {whose}, "
        f"alert {alert.alert_id}. Do: {alert.action}"
    )


def page_body(alert: Alert) -> bytes:
    """The webhook's JSON: the alert message as on ivig.alerts.v1, plus the short text."""
    body = {
        "text": page_text(alert),
        "idempotency_key": page_key(alert),
        "alert": alert.model_dump(mode="json"),
    }
    return json.dumps(body).encode()


def webhook_problem(url: str | None) -> str | None:
    """Why the pager cannot start with this webhook URL, or None."""
    if not url:
        return "IVIGWATCH_PAGER_WEBHOOK_URL is not set (the webhook urgent and critical alerts are posted to)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "IVIGWATCH_PAGER_WEBHOOK_URL must be an http:// or https:// URL"
    return None


def prune(delivered: dict[str, str], now: datetime) -> dict[str, str]:
    """Drop keys of alert messages too old to page again, and keep at most MAX_KEYS_PER_PATIENT."""
    cutoff = now - MAX_PAGE_AGE
    kept = {k: ts for k, ts in delivered.items() if datetime.fromisoformat(ts) >= cutoff}
    newest = sorted(kept.items(), key=lambda item: item[1])[-MAX_KEYS_PER_PATIENT:]
    return dict(newest)


# --- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    retry_after: str | None = None


Post = Callable[[bytes, Mapping[str, str]], Awaitable[Response]]
"""Posts a body with headers to the webhook; raises on timeouts and connection errors."""
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    reason: str | None = None  # why not delivered: "(pager): ... [rule]", no patient values


async def deliver(
    post: Post, body: bytes, headers: Mapping[str, str], max_attempts: int, sleep: Sleep = asyncio.sleep
) -> Delivery:
    """Post until a 2xx, a permanent refusal, or `max_attempts` attempts."""
    limit = max(1, max_attempts)
    last = "no attempt"
    attempts = 0
    for attempts in range(1, limit + 1):
        retry_after = None
        try:
            response = await post(body, headers)
        except TimeoutError:
            last = "timeout"
        except aiohttp.ClientError as exc:
            last = f"connection error ({type(exc).__name__})"
        else:
            outcome = classify_status(response.status)
            if outcome is Outcome.DELIVERED:
                return Delivery(True, attempts)
            if outcome is Outcome.PERMANENT:
                return Delivery(
                    False,
                    attempts,
                    f"(pager): the webhook refused the page with HTTP {response.status} [page_refused]",
                )
            last = f"HTTP {response.status}"
            retry_after = retry_after_seconds(response.retry_after)
        if attempts < limit:
            await sleep(max(backoff_seconds(attempts), retry_after or 0.0))
    return Delivery(
        False, attempts, f"(pager): not delivered after {attempts} attempts, last {last} [page_undelivered]"
    )


class Webhook:
    """The webhook's HTTP client (one aiohttp session, opened on first use)."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        async with self._session.post(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            allow_redirects=False,
        ) as resp:
            await resp.read()  # the answer's body is not used (nor logged: it may echo the page)
            return Response(resp.status, resp.headers.get("Retry-After"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# --- the agent -----------------------------------------------------------------------------------


@dataclass
class PagerRuntime:
    table: Any
    deadletter_topic: Any
    post: Post
    max_attempts: int
    sleep: Sleep = asyncio.sleep
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
            if skip is Skip.ALREADY_PAGED:
                log.info("not paging %s %s again: already delivered", alert.alert_id, alert.status.value)
            return
        key_text = page_key(alert)
        result = await deliver(
            self.post, page_body(alert), {"Idempotency-Key": key_text}, self.max_attempts, self.sleep
        )
        self.counts["retries"] += result.attempts - 1
        if result.delivered:
            self.remember(alert)
            self.counts["paged"] += 1
            log.info(
                "paged %s %s %s level=%d (%d attempt%s)",
                alert.alert_id,
                alert.severity.value,
                alert.status.value,
                alert.escalation_level,
                result.attempts,
                "" if result.attempts == 1 else "s",
            )
            return
        log.error("PAGE NOT DELIVERED for %s %s: %s", alert.alert_id, alert.status.value, result.reason)
        reason = result.reason or "(pager): not delivered [page_undelivered]"
        await self.dead_letter(raw, key, [reason], message)

    async def dead_letter(self, raw: bytes, key: bytes | None, errors: list[str], message: Any) -> None:
        await send_dead_letter(self.deadletter_topic, raw, key, errors, "page", message)
        self.counts["deadletter"] += 1


def register(app: faust.App, settings: Settings) -> PagerRuntime:
    problem = webhook_problem(settings.pager_webhook)
    if problem is not None:
        raise ValueError(f"cannot start the pager bridge: {problem}")
    assert settings.pager_webhook is not None  # noqa: S101 - checked just above, for mypy
    webhook = Webhook(settings.pager_webhook, settings.pager_timeout_seconds)
    runtime = PagerRuntime(
        table=app.Table(
            "pager-delivered",
            default=None,
            partitions=settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,  # raw codec: the key bytes are the alerts' (patient_id)
        ),
        deadletter_topic=app.topic(DEADLETTER_TOPIC),
        post=webhook.post,
        max_attempts=settings.pager_max_attempts,
    )
    alerts_topic = app.topic(ALERTS_TOPIC, partitions=settings.topic_partitions)

    async def page_alerts(stream: Any) -> None:
        try:
            await runtime.consume(stream)
        finally:
            await webhook.close()

    app.agent(alerts_topic, name="ivigwatch.page_alerts")(page_alerts)
    app.runtime = runtime  # for tests
    app.counts = runtime.counts  # shown on /healthz
    return runtime
