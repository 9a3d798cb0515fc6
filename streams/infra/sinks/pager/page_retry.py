"""The pager's retry policy: timeouts, connection errors, 408, 429 and 5xx are retried with capped
exponential backoff (or the receiver's Retry-After) up to a number of attempts; any other answer
(4xx, 3xx) is permanent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from streams.infra.sinks.pager.webhook_client import Post

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
RETRIED_HTTP_STATUSES = frozenset({408, 429})
"""Besides every 5xx: the receiver says 'later', not 'never'."""

Sleep = Callable[[float], Awaitable[None]]


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
        except Exception as exc:  # noqa: BLE001 - e.g. a header aiohttp refuses: this channel failed, not the pager
            return Delivery(False, attempts, f"(pager): could not send ({type(exc).__name__}) [page_error]")
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
