"""Posts a roster page to each of one recipient's channels (at the same time), with the pager's retry
policy; the recipient is reached as soon as one channel took it (the others are then stopped: the
page is not held up by a slow or failing channel). One aiohttp session for every channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import aiohttp

from models.alerts import Alert
from models.roster import Channel
from streams.infra.settings import Settings
from streams.infra.sinks.pager.channel_templates import ChannelRequest, MissingSecret, render
from streams.infra.sinks.pager.page_encoding import Recipient
from streams.infra.sinks.pager.page_retry import Delivery, Sleep, deliver
from streams.infra.sinks.pager.webhook_client import Response

log = logging.getLogger("ivigwatch.pager")

Http = Callable[[ChannelRequest], Awaitable[Response]]
"""Posts one request; raises on timeouts and connection errors."""


@dataclass(frozen=True)
class Reach:
    """What became of one page to one recipient: delivered on which channels, or why not."""

    delivered: tuple[str, ...]  # the kinds of the channels that took it
    reason: str | None = None  # why no channel took it (no secret values, no patient values)
    retries: int = 0  # attempts beyond each channel's first

    @property
    def reached(self) -> bool:
        return bool(self.delivered)


class ChannelSender:
    def __init__(
        self,
        secrets: Mapping[str, str],
        timeout_seconds: float,
        max_attempts: int,
        sleep: Sleep = asyncio.sleep,
        person_attempts: int | None = None,
    ) -> None:
        self.secrets = dict(secrets)
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_attempts = max_attempts
        self.person_attempts = max_attempts if person_attempts is None else person_attempts
        """Attempts per channel for a person on call; the fallback contact gets `max_attempts`."""
        self.sleep = sleep
        self.http: Http = self._post
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelSender:
        return cls(
            settings.pager_secret_values(),
            settings.pager_timeout_seconds,
            settings.pager_max_attempts,
            person_attempts=settings.pager_person_attempts,
        )

    async def _post(self, request: ChannelRequest) -> Response:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        async with self._session.post(
            request.url, data=request.body, headers=request.headers, allow_redirects=False
        ) as resp:
            await resp.read()  # never logged: it may echo the page
            return Response(resp.status, resp.headers.get("Retry-After"))

    async def _one(self, channel: Channel, alert: Alert, recipient: Recipient, attempts: int) -> Delivery:
        try:
            request = render(channel, alert, recipient, self.secrets)
        except MissingSecret as exc:
            return Delivery(False, 0, f"(pager): the secret {exc.args[0]} is not set [secret_missing]")

        async def post(body: bytes, headers: Mapping[str, str]) -> Response:
            return await self.http(replace(request, body=body, headers=dict(headers)))

        return await deliver(post, request.body, request.headers, attempts, self.sleep)

    async def send(self, channels: Sequence[Channel], alert: Alert, recipient: Recipient) -> Reach:
        """Post the page on every channel of the recipient at once, until one took it (the rest are
        then stopped) or all failed; a person on call gets `person_attempts` per channel."""
        attempts = self.max_attempts if recipient.fallback else self.person_attempts
        tasks = [asyncio.ensure_future(self._one(c, alert, recipient, attempts)) for c in channels]
        try:
            pending = set(tasks)
            while pending:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if any(t.done() and not t.cancelled() and t.result().delivered for t in tasks):
                    break
        finally:
            for task in tasks:
                task.cancel()
        results = [
            (c, t.result()) for c, t in zip(channels, tasks, strict=True) if t.done() and not t.cancelled()
        ]
        retries = sum(max(0, r.attempts - 1) for _, r in results)
        delivered = tuple(c.kind for c, r in results if r.delivered)
        for channel, result in results:
            if not result.delivered:
                log.warning(
                    "page %s to %s via %s failed: %s",
                    alert.alert_id,
                    recipient.id,
                    channel.kind,
                    result.reason,
                )
        if delivered:
            return Reach(delivered, retries=retries)
        reasons = sorted({f"{c.kind} {r.reason}" for c, r in results})
        return Reach((), "; ".join(reasons), retries)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
