"""The pager sink: each alert message of a batch posted to the webhook with its idempotency key,
retried by the pager's policy; the pages it could not deliver come back with the reason."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from models.alerts import Alert
from streams.infra.settings import Settings
from streams.infra.sinks.interface import Refused, Sink
from streams.infra.sinks.pager.page_encoding import page_body, page_key
from streams.infra.sinks.pager.page_retry import Sleep, deliver
from streams.infra.sinks.pager.webhook_client import Post, Webhook, webhook_problem

log = logging.getLogger("ivigwatch.pager")


async def _nothing_to_close() -> None:
    return None


@dataclass
class PagerSink(Sink[Alert]):
    post: Post
    max_attempts: int
    sleep: Sleep = asyncio.sleep
    closer: Callable[[], Awaitable[None]] = _nothing_to_close
    retries: int = 0
    """Attempts beyond the first, over the sink's life (shown on /healthz)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> PagerSink:
        """The configured webhook's sink; ValueError naming the setting when it cannot start."""
        problem = webhook_problem(settings.pager_webhook)
        if problem is not None:
            raise ValueError(f"cannot start the pager bridge: {problem}")
        assert settings.pager_webhook is not None  # noqa: S101 - checked just above, for mypy
        webhook = Webhook(settings.pager_webhook, settings.pager_timeout_seconds)
        return cls(webhook.post, settings.pager_max_attempts, closer=webhook.close)

    async def write(self, batch: Sequence[Alert]) -> list[Refused[Alert]]:
        refused: list[Refused[Alert]] = []
        for alert in batch:
            headers = {"Idempotency-Key": page_key(alert)}
            result = await deliver(self.post, page_body(alert), headers, self.max_attempts, self.sleep)
            self.retries += result.attempts - 1
            if result.delivered:
                log.info(
                    "paged %s %s %s level=%d (%d attempt%s)",
                    alert.alert_id,
                    alert.severity.value,
                    alert.status.value,
                    alert.escalation_level,
                    result.attempts,
                    "" if result.attempts == 1 else "s",
                )
                continue
            log.error("PAGE NOT DELIVERED for %s %s: %s", alert.alert_id, alert.status.value, result.reason)
            refused.append(Refused(alert, result.reason or "(pager): not delivered [page_undelivered]"))
        return refused

    async def close(self) -> None:
        await self.closer()
