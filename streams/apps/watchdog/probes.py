"""What the watchdog looks at: consumer-group offsets on ivig.events.v1, and the workers' /healthz."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import aiohttp
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from streams.apps.watchdog.lag import Offsets
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings

log = logging.getLogger("ivigwatch.watchdog")


def health_urls(settings: Settings) -> list[str]:
    """IVIGWATCH_WATCHDOG_HEALTH_URLS, or the local rule worker's /healthz."""
    if settings.watchdog_health_urls:
        return [u.strip() for u in settings.watchdog_health_urls.split(",") if u.strip()]
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host  # noqa: S104
    return [f"http://{host}:{settings.rules_web_port}/healthz"]


async def partition_ids(admin: Any, topic: str) -> list[int]:
    """The topic's partition ids from the broker's metadata (empty when the topic does not exist)."""
    described = await admin.describe_topics([topic])
    found = next((t for t in described if t["topic"] == topic and not t.get("error_code")), None)
    return sorted(p["partition"] for p in found["partitions"]) if found else []


class LagSampler:
    """End offsets of the topic (a group-less consumer) and each group's committed offsets (admin)."""

    def __init__(self, settings: Settings, groups: Sequence[str], timeout: float, topic: str = EVENTS_TOPIC):
        self.groups = list(groups)
        self.topic = topic
        self.timeout = timeout
        self.consumer = kafka_clients.consumer(
            settings, group_id=None, enable_auto_commit=False, client_id="ivigwatch-watchdog"
        )
        self.admin = kafka_clients.admin(settings, client_id="ivigwatch-watchdog")
        self.partitions: list[TopicPartition] = []
        self.failing = False

    async def start(self) -> None:
        await self.consumer.start()
        await self.admin.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def sample(self) -> dict[str, Offsets] | None:
        """Every group's offsets now; None (logged once per outage) when Kafka does not answer in time."""
        try:
            async with asyncio.timeout(self.timeout):
                found = await self._sample()
        except (KafkaError, OSError, TimeoutError) as exc:
            if not self.failing:
                log.warning("cannot read the offsets of %s from Kafka (%s)", self.topic, type(exc).__name__)
            self.failing = True
            return None
        if self.failing:
            log.info("reading the offsets of %s again", self.topic)
        self.failing = False
        return found

    async def _sample(self) -> dict[str, Offsets]:
        if not self.partitions:
            ids = await partition_ids(self.admin, self.topic)
            if not ids:
                raise KafkaError(f"topic {self.topic} has no partitions yet")
            self.partitions = [TopicPartition(self.topic, p) for p in ids]
        end = await self.consumer.end_offsets(self.partitions)
        start = await self.consumer.beginning_offsets(self.partitions)
        found = {}
        for group in self.groups:
            committed = await self.admin.list_consumer_group_offsets(group, partitions=self.partitions)
            found[group] = Offsets(
                end={tp.partition: end[tp] for tp in self.partitions},
                committed={tp.partition: _committed(committed.get(tp), start[tp]) for tp in self.partitions},
            )
        return found


def _committed(meta: object, start: int) -> int:
    """A group's committed offset; where it has none, it starts at the topic's start (earliest)."""
    offset = getattr(meta, "offset", -1)
    return start if offset is None or offset < 0 else max(int(offset), start)


class HealthProber:
    """GET each /healthz; answered = HTTP 200 within the timeout."""

    def __init__(self, timeout: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def probe(self, urls: Iterable[str]) -> dict[str, bool]:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=self.timeout)
        urls = list(urls)
        answers = await asyncio.gather(*(self._one(u) for u in urls))
        return dict(zip(urls, answers, strict=True))

    async def _one(self, url: str) -> bool:
        assert self.session is not None  # noqa: S101 - opened in probe()
        try:
            async with self.session.get(url, allow_redirects=False) as resp:
                await resp.read()
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
