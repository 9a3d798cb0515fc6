"""The InfluxDB sink: a batch of line-protocol lines, held and retried with capped exponential
backoff for as long as InfluxDB is down; the lines it refuses as bad data (HTTP 400) or too large
(413) come back, each alone (the client bisects a refused batch)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from streams.infra.metrics.writer_metrics import INFLUX_WRITES
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable, WriteReport
from streams.infra.sinks.interface import Refused, Sink

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_BACKOFF_SECONDS = 0.5


def next_backoff(delay: float, cap: float) -> float:
    """The wait after `delay` failed: doubled, at most `cap` seconds."""
    return min(delay * 2, cap)


class InfluxSink(Sink[str]):
    """Writes line-protocol batches to one database as the writer user."""

    def __init__(
        self,
        client: InfluxClient,
        max_backoff_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.max_backoff = max_backoff_seconds
        self.sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings) -> InfluxSink:
        return cls(InfluxClient(settings), settings.writer_max_backoff_seconds)

    async def write(self, batch: Sequence[str]) -> list[Refused[str]]:
        report = await self.write_report(batch)
        return [Refused(line, reason) for line, reason in report.rejected]

    async def write_report(
        self, lines: Sequence[str], stop: asyncio.Event | None = None, *, rp: str | None = None
    ) -> WriteReport:
        """Write a batch (into retention policy `rp`, when given), retrying while InfluxDB is down
        (until `stop` is set, when given)."""
        report, attempt = await self.retrying(
            lambda: self._timed_write(lines, rp), f"{len(lines)} lines held", stop
        )
        report.retries = attempt
        if attempt:
            log.info("InfluxDB is back: wrote %d held lines after %d retries", report.written, attempt)
        return report

    async def _timed_write(self, lines: Sequence[str], rp: str | None) -> WriteReport:
        """One write request, its time observed by outcome."""
        began, outcome = time.perf_counter(), "error"
        try:
            report = await self.client.write_once(lines, rp=rp)
        except InfluxUnavailable:
            outcome = "unavailable"
            raise
        else:
            outcome = "rejected" if report.rejected else "ok"
            return report
        finally:
            INFLUX_WRITES.labels(outcome=outcome).observe(time.perf_counter() - began)

    async def retrying(
        self, call: Callable[[], Awaitable[T]], held: str, stop: asyncio.Event | None = None
    ) -> tuple[T, int]:
        """`call`'s result and the retries it took: retried with capped exponential backoff while
        InfluxDB is unreachable (until `stop` is set, when given). `held` says what waits, for the log."""
        delay, attempt = FIRST_BACKOFF_SECONDS, 0
        while True:
            try:
                return await call(), attempt
            except InfluxUnavailable as exc:
                attempt += 1
                if stop is not None and stop.is_set():
                    raise
                log.warning("%s; %s, retry %d in %.1fs", exc, held, attempt, delay)
                await self.sleep(delay)
                delay = next_backoff(delay, self.max_backoff)

    async def close(self) -> None:
        await self.client.close()
