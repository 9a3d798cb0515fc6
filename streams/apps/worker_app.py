"""The Faust app factory: one app per worker role, each its own consumer group and process.

`rules`: validates events, keeps per-patient state in a table, emits alerts, dead-letters bad input.
`writer`: writes every valid event, alert and nurse action to InfluxDB, committing offsets only after
the write succeeded. It is a separate app so an InfluxDB outage never delays an alert.
`pager` (optional, needs IVIGWATCH_PAGER_WEBHOOK_URL): posts urgent and critical alerts to a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.web.base import BlueprintManager

from streams.infra.kafka.faust_app import WorkerApp, committed_offset
from streams.infra.kafka.kafka_clients import faust_credentials
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.metrics.scrape_access import CHALLENGE, FORWARDED_HEADERS, exposition, scrape_allowed
from streams.infra.metrics.worker_metrics import set_consumer_lag
from streams.infra.settings import Settings

POSITION_TIMEOUT_SECONDS = 1.0
"""How long a scrape waits for the consumer's fetch positions of partitions it knows nothing else of."""


class Role(StrEnum):
    RULES = "rules"
    WRITER = "writer"
    PAGER = "pager"


def broker_url(bootstrap: str) -> str:
    """Faust's broker URL for a comma-separated bootstrap list."""
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def create_app(role: Role, settings: Settings, **overrides: Any) -> faust.App:
    """A configured Faust app with the role's agents registered on it."""
    app_id, port = {
        Role.RULES: (settings.rules_app_id, settings.rules_web_port),
        Role.WRITER: (settings.writer_app_id, settings.writer_web_port),
        Role.PAGER: (settings.pager_app_id, settings.pager_web_port),
    }[role]
    datadir = settings.worker_datadir or settings.state_dir / "faust" / role.value
    datadir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {
        "broker": broker_url(settings.bootstrap),
        "broker_credentials": faust_credentials(settings),
        "store": settings.store,
        "processing_guarantee": "at_least_once",
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": 1,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "autodiscover": False,
        "datadir": str(datadir),
        "web_enabled": True,
        "web_host": settings.web_host,
        "web_port": port,
        # Faust's own pages are off, /healthz and /metrics are the pages (_register_healthz,
        # _register_metrics): /table would serve patient state, /router the cluster's workers, /,
        # /graph and /performance internals.
        "web_tables_enabled": False,
        "web_router_enabled": False,
        "web_stats_enabled": False,
        "web_graph_enabled": False,
        "web_metrics_enabled": False,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        # Each event's patient state goes to the table's changelog (KBs): Faust's 16 KB batches
        # with no linger hold 2-5 of them, and the agent kept stalling on "producer buffer full"
        # (seconds of alert latency at 500 readings/s; 18/80/146 ms p50/p95/p99 with these).
        "producer_max_batch_size": 512 * 1024,
        "producer_linger": 0.005,
        # Faust's 60 s session would leave a killed worker's partitions idle for a minute: the
        # broker gives them to the survivors only once the dead member's session has expired.
        "broker_session_timeout": settings.worker_session_timeout_seconds,
        "broker_heartbeat_interval": settings.worker_session_timeout_seconds / 3,
    }
    if role is Role.WRITER:
        # Its writes are idempotent and it acks a batch only once InfluxDB took it: shutdown and
        # rebalance must not wait for a batch held through an InfluxDB outage (they would until
        # SIGKILL, and the next writer would wait out the killed member's session).
        options["stream_wait_empty"] = False
    options.update(overrides)
    app = WorkerApp(app_id, **options)
    if role is Role.RULES:
        from agents import action_agent, event_agent, tick_agent

        runtime = event_agent.register(app, settings)
        action_agent.register(app, runtime)
        tick_agent.register(app, runtime, settings)
    elif role is Role.PAGER:
        from agents import pager_agent

        pager_agent.register(app, settings)
    else:
        from agents import timeseries_agent

        timeseries_agent.register(app, settings)
    _register_healthz(app, role)
    _register_metrics(app, settings)
    return app


def _register_healthz(app: faust.App, role: Role) -> None:
    """/healthz as the web server's first page: Faust's built-in pages (the index at /, which has no
    setting of its own, and any its settings leave on) are dropped before the server applies them."""
    app.web.blueprints = BlueprintManager()

    async def healthz(web: Any, request: Any) -> Any:
        assigned = app.consumer.assignment() if app.consumer else set()
        return web.json(
            {
                "status": "ok",
                "role": role.value,
                "app": app.conf.id,
                "assigned_partitions": len(assigned),
                "rebalancing": bool(app.rebalancing),
                "counts": dict(getattr(app, "counts", {})),
            }
        )

    app.page("/healthz")(healthz)


def _register_metrics(app: faust.App, settings: Settings) -> None:
    """/metrics in Prometheus' text format, for the scrape token (or a loopback client when none is
    set: `scrape_access`); the consumer lag of the assigned partitions is read at each scrape."""

    async def metrics(web: Any, request: Any) -> Any:
        forwarded = any(name in request.headers for name in FORWARDED_HEADERS)
        allowed = scrape_allowed(
            settings.metrics_token, request.headers.get("Authorization"), request.remote, forwarded
        )
        if not allowed:
            return web.text(
                "scrape credential required\n", status=401, headers={"WWW-Authenticate": CHALLENGE}
            )
        set_consumer_lag(await consumer_lags(app))
        body, content_type = exposition()
        # in the headers: aiohttp refuses a content_type argument that carries a charset
        return web.bytes(body, headers={"Content-Type": content_type})

    app.page("/metrics")(metrics)


async def consumer_lags(app: faust.App) -> list[tuple[str, int, int]]:
    """(topic, partition, lag) of each assigned partition of the topics the agents read (not the
    tables' changelogs): the end offset the last fetch saw minus the next offset to process, which is
    the rules' own position on an events partition (as its timers use it), else the group's committed
    offset, else (nothing processed nor committed yet) the consumer's fetch position."""
    consumer = app.consumer
    if consumer is None or app.rebalancing:
        return []
    try:
        assigned = [tp for tp in consumer.assignment() if app.topics.acks_enabled_for(tp.topic)]
    except ConsumerNotStarted:  # scraped while the worker starts
        return []
    processed: dict[int, int] = getattr(getattr(app, "runtime", None), "positions", {})
    known: dict[Any, int | None] = {}
    for tp in assigned:
        position = processed.get(tp.partition) if tp.topic == EVENTS_TOPIC else None
        known[tp] = position if position is not None else committed_offset(app, tp.topic, tp.partition)
    unknown = [tp for tp, position in known.items() if position is None]
    if unknown:
        with contextlib.suppress(Exception):  # none known in time: those partitions have no figure
            async with asyncio.timeout(POSITION_TIMEOUT_SECONDS):
                fetched = await asyncio.gather(*(consumer.position(tp) for tp in unknown))
            known.update(zip(unknown, fetched, strict=True))
    lags = []
    for tp, position in known.items():
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: BLE001, S112 - not fetched yet: no figure
            continue
        if end is not None and end >= 0 and position is not None:
            lags.append((tp.topic, tp.partition, max(0, int(end) - int(position))))
    return lags
