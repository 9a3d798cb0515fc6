"""The watchdog's loop: sample, decide, send `pipeline_stalled` messages (acks=all), serve /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError

from agents.rules.loader import load_rules
from models.alerts import Alert
from streams.apps.metrics_page import metrics_route
from streams.apps.watchdog import journal, messages
from streams.apps.watchdog.lag import Backlog, BacklogView, Offsets
from streams.apps.watchdog.policy import Limits, Sample, Watch
from streams.apps.watchdog.probes import HealthProber, LagSampler, health_urls
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.metrics import watchdog_metrics as metrics
from streams.infra.settings import Settings

log = logging.getLogger("ivigwatch.watchdog")


def limits_of(settings: Settings) -> Limits:
    """The settings' limits, with the rule file's escalation timing for a critical alert."""
    timing = load_rules(settings.rules_file).timing
    return Limits(
        interval_seconds=settings.watchdog_interval_seconds,
        stall_seconds=settings.watchdog_stall_seconds,
        unanswered_seconds=settings.watchdog_unanswered_seconds,
        escalate_after=timedelta(minutes=timing.escalate_critical_minutes),
        max_escalation_level=timing.max_escalation_level,
    )


@dataclass
class Health:
    """What /healthz shows: ids, counts and lag figures (no patient data exists in the watchdog)."""

    watch: Watch
    urls: list[str]
    writer_group: str
    interval: float
    ready: bool = False
    last_sample: float | None = None
    kafka_ok: bool = False
    writer: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"samples": 0, "messages": 0, "send_errors": 0})

    def body(self) -> tuple[int, dict[str, Any]]:
        fresh = self.last_sample is not None and time.monotonic() - self.last_sample < 3 * self.interval + 5
        ok = self.ready and fresh
        return 200 if ok else 503, {
            "status": "ok" if ok else "starting" if not self.ready else "stale",
            "role": "watchdog",
            "ready": self.ready,
            "group": self.watch.group,
            "topic": EVENTS_TOPIC,
            "health_urls": self.urls,
            "kafka_ok": self.kafka_ok,
            **self.watch.snapshot(),
            "writer": {"group": self.writer_group, **self.writer},
            "counts": dict(self.counts),
        }


async def _serve(health: Health, settings: Settings, host: str, port: int) -> web.AppRunner:
    async def healthz(request: web.Request) -> web.Response:
        status, body = health.body()
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_route(*metrics_route(settings))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def run(settings: Settings, stop: asyncio.Event) -> None:
    """Watch until `stop` is set. Raises KafkaError/OSError when Kafka is unreachable at start."""
    limits = limits_of(settings)
    watch = Watch(group=settings.rules_app_id, limits=limits)
    urls = health_urls(settings)
    health = Health(watch, urls, settings.writer_app_id, limits.interval_seconds)
    producer = kafka_clients.producer(settings, acks="all", enable_idempotence=True)
    await producer.start()
    cleanup: list[Any] = [producer.stop]
    try:
        runner = await _serve(health, settings, settings.web_host, settings.watchdog_web_port)
        cleanup.append(runner.cleanup)
        watch.restore(await journal.last_own_alert(settings))
        actions = journal.ActionFollower(settings)
        await actions.start()
        cleanup.append(actions.stop)
        probe_timeout = max(0.5, min(2.0, limits.interval_seconds))
        sampler = LagSampler(
            settings, [settings.rules_app_id, settings.writer_app_id], timeout=max(5.0, probe_timeout)
        )
        await sampler.start()
        cleanup.append(sampler.stop)
        prober = HealthProber(probe_timeout)
        cleanup.append(prober.close)
        log.info(
            "watchdog watching consumer group %s on %s and %s; pipeline_stalled after %gs of stall "
            "or %gs unanswered, sampled every %gs; %s",
            watch.group,
            EVENTS_TOPIC,
            ", ".join(urls),
            limits.stall_seconds,
            limits.unanswered_seconds,
            limits.interval_seconds,
            _history(watch),
        )
        await _loop(watch, health, sampler, prober, actions, producer, stop)
    finally:
        for close in reversed(cleanup):
            try:
                await close()
            except Exception:  # closing down: every resource gets its turn
                log.debug("while closing", exc_info=True)


def _history(watch: Watch) -> str:
    if watch.open is not None:
        current = watch.open
        return f"alert {messages.alert_id(current.n)} still open ({current.status.value}): not fired again"
    if watch.last_n:
        return f"last alert {messages.alert_id(watch.last_n)} resolved"
    return "no alert sent before"


async def _loop(
    watch: Watch,
    health: Health,
    sampler: LagSampler,
    prober: HealthProber,
    actions: journal.ActionFollower,
    producer: Any,
    stop: asyncio.Event,
) -> None:
    interval = watch.limits.interval_seconds
    writer = Backlog(window_seconds=watch.limits.stall_seconds)
    outbox: list[Alert] = []
    while not stop.is_set():
        began = time.monotonic()
        offsets, answered = await asyncio.gather(sampler.sample(), prober.probe(health.urls))
        for action in await actions.poll():
            outbox += watch.act(action)
        rules = None if offsets is None else offsets[watch.group]
        sample = Sample(began, datetime.now(UTC), rules, answered)
        outbox += watch.observe(sample)
        if offsets is not None:
            _watch_writer(health, writer.add(began, offsets[health.writer_group]), watch.limits)
            observe_lags(offsets)
        health.kafka_ok, health.last_sample, health.ready = offsets is not None, time.monotonic(), True
        health.counts["samples"] += 1
        metrics.WATCHDOG_SAMPLES.inc()
        metrics.WATCHDOG_KAFKA_UP.set(1 if offsets is not None else 0)
        outbox = await _send(producer, outbox, health)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, interval - (time.monotonic() - began))):
                await stop.wait()


def observe_lags(offsets: dict[str, Offsets]) -> None:
    """Each sampled group's lag per partition, for /metrics."""
    metrics.GROUP_LAG.clear()
    for group, sampled in offsets.items():
        for partition in sampled.end:
            metrics.GROUP_LAG.labels(group=group, partition=str(partition)).set(sampled.lag(partition))


def _watch_writer(health: Health, view: BacklogView, limits: Limits) -> None:
    """The writer's backlog: shown on /healthz and logged on change, never an alert (alerts do not wait
    on InfluxDB; an InfluxDB outage makes the writer hold its batch on purpose)."""
    behind = bool(view.stalled(limits.stall_seconds))
    if behind != health.writer.get("behind", False):
        if behind:
            log.warning(
                "writer group %s: %d events waiting, the oldest for %.0f s (InfluxDB down or the writer "
                "stopped); alerts are not affected",
                health.writer_group,
                view.total_lag,
                view.oldest_wait,
            )
        else:
            log.info("writer group %s caught up", health.writer_group)
    health.writer = {
        "lag_events": view.total_lag,
        "oldest_wait_seconds": round(view.oldest_wait, 1),
        "behind": behind,
    }


async def _send(producer: Any, outbox: list[Alert], health: Health) -> list[Alert]:
    """Send in order, each acknowledged by all in-sync replicas; what could not be sent is kept."""
    for i, alert in enumerate(outbox):
        try:
            await producer.send_and_wait(ALERTS_TOPIC, alert.model_dump_json().encode(), key=journal.KEY)
        except (KafkaError, OSError) as exc:
            health.counts["send_errors"] += 1
            metrics.WATCHDOG_SEND_ERRORS.inc()
            log.error(  # noqa: TRY400 - the reason is enough, a traceback per retry is noise
                "could not send %s %s (%s): retrying", alert.alert_id, alert.status.value, type(exc).__name__
            )
            return outbox[i:]
        health.counts["messages"] += 1
        metrics.WATCHDOG_MESSAGES.labels(status=alert.status.value).inc()
        log.warning(
            "%s %s %s level=%d: %s",
            alert.alert_id,
            alert.severity.value,
            alert.status.value,
            alert.escalation_level,
            alert.evidence.summary,
        )
    return []
