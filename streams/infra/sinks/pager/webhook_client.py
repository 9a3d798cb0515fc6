"""The pager webhook's HTTP client: one aiohttp session, no redirects, the answer's body never read
into a log (it may echo the page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp


@dataclass(frozen=True)
class Response:
    status: int
    retry_after: str | None = None


Post = Callable[[bytes, Mapping[str, str]], Awaitable[Response]]
"""Posts a body with headers to the webhook; raises on timeouts and connection errors."""


def webhook_problem(url: str | None) -> str | None:
    """Why the pager cannot start with this webhook URL, or None."""
    if not url:
        return "IVIGWATCH_PAGER_WEBHOOK_URL is not set (the webhook urgent and critical alerts are posted to)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "IVIGWATCH_PAGER_WEBHOOK_URL must be an http:// or https:// URL"
    return None


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
