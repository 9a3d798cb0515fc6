"""The gateway's aiohttp application: `POST /v1/events` (one event or a batch), `POST /v1/fhir`,
`GET /v1/health`, and the patient app (`/app/`, `GET /v1/me`, `GET /v1/messages`: `app_routes`).

Every endpoint needs `Authorization: Bearer <token>` of a live credential (`GET /metrics`: the
scrape token, IVIGWATCH_METRICS_TOKEN, or a loopback client when none is set). Events are produced to
`ivig.events.v1` keyed by the credential's patient, and the answer (200) comes only after the broker
acknowledged every one of them; a broker that cannot take them gives 503 (the device retries the
same batch later: nothing was marked as produced). Refusals are RFC 9457 problem details naming
fields, never values. Event ids produced within `gateway_dedupe_hours` are dropped from a resend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from models.credentials import Credential
from models.events import Infusion
from streams.apps.gateway.app_routes import app_routes
from streams.apps.gateway.fhir_intake import fhir_events
from streams.apps.gateway.intake import Accepted, Problem, intake, intake_items
from streams.apps.gateway.patient_feed import PatientFeed
from streams.apps.gateway.patient_glance import PatientGlances
from streams.apps.gateway.patient_inbox import PatientInbox
from streams.apps.gateway.recent_ids import RecentIds
from streams.apps.gateway.request_rate import RequestRate
from streams.apps.gateway.session_memory import FILE_NAME as SESSIONS_FILE
from streams.apps.gateway.session_memory import SessionMemory
from streams.apps.http_site import start_site
from streams.apps.metrics_page import metrics_route, request_metrics
from streams.infra.credential_store import CredentialStore, credential_path
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import EVENTS_TOPIC, ensure_topics
from streams.infra.metrics.web_metrics import GATEWAY_EVENTS
from streams.infra.settings import Settings

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 4 * 1024 * 1024
SEND_TIMEOUT_SECONDS = 15.0


class Gateway:
    """What the handlers share: credentials, the producer, the rate buckets and the recent ids."""

    def __init__(self, settings: Settings, store: CredentialStore, sessions: SessionMemory) -> None:
        self.settings = settings
        self.inbox = PatientInbox()
        self.glances = PatientGlances()
        self.feed = PatientFeed(settings, self.inbox)
        self.store = store
        self.sessions = sessions
        self.rate = RequestRate(settings.gateway_requests_per_second, settings.gateway_burst)
        self.recent = RecentIds(settings.gateway_dedupe_hours * 3600)
        self.skew = None if settings.simulated_clock else timedelta(minutes=settings.max_clock_skew_minutes)
        """How far ahead of its receipt an event may be timed (None: a simulated clock, as in the rules)."""
        self.producer: AIOKafkaProducer | None = None
        self.inflight: dict[tuple[str, str], asyncio.Future[Any]] = {}
        """Deliveries handed to the producer and not acknowledged yet, by (patient, event id)."""
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        """Per patient, one request's produce-then-remember at a time: two copies of a batch sent at
        once never both go."""

    async def produce(self, accepted: Accepted) -> tuple[int, int]:
        """Produce the events not produced before; (produced, duplicates). Raises KafkaError or
        TimeoutError when the broker did not acknowledge every one within the send timeout: what was
        handed to the producer stays in flight, and a retry of the batch waits for it instead of
        sending it again."""
        if self.producer is None:
            raise KafkaError("the producer is not running")
        patient_id = accepted.events[0][0].patient_id  # a body holds one patient's events
        async with self.locks[patient_id]:
            now = time.monotonic()
            self._settle_in_flight(now)
            unique: dict[str, bytes] = {}
            for event, raw in accepted.events:
                event_id = str(event.event_id)
                if event_id not in unique and not self.recent.seen(patient_id, event_id, now):
                    unique[event_id] = raw
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                futures = await self._in_flight(patient_id, unique)
            if futures:
                done, pending = await asyncio.wait(futures.values(), timeout=SEND_TIMEOUT_SECONDS)
                failed = [f for f in done if f.cancelled() or f.exception() is not None]
                for event_id, future in futures.items():
                    if future in failed:
                        self.inflight.pop((patient_id, event_id), None)  # sent again on a retry
                if pending or failed:
                    raise KafkaError(f"{len(pending)} events not acknowledged, {len(failed)} failed")
            for event_id in unique:
                self.inflight.pop((patient_id, event_id), None)
                self.recent.add(patient_id, event_id, now)
            return len(unique), len(accepted.events) - len(unique)

    def _settle_in_flight(self, now: float) -> None:
        """Deliveries of earlier, refused tries that ended meanwhile: a delivered event counts as
        produced (a retry drops it), a failed one is forgotten (a retry sends it again)."""
        for key, future in list(self.inflight.items()):
            if future.done():
                del self.inflight[key]
                if not future.cancelled() and future.exception() is None:
                    self.recent.add(*key, now)

    async def _in_flight(self, patient_id: str, events: dict[str, bytes]) -> dict[str, asyncio.Future[Any]]:
        """Each event's delivery: the one still in flight from an earlier try, else a new send, in
        order (keyed by the patient, so one partition keeps the device's order)."""
        assert self.producer is not None  # noqa: S101 - checked by the caller
        futures: dict[str, asyncio.Future[Any]] = {}
        for event_id, raw in events.items():
            future = self.inflight.get((patient_id, event_id))
            if future is None:
                future = await self.producer.send(EVENTS_TOPIC, raw, key=patient_id.encode())
                self.inflight[(patient_id, event_id)] = future
            futures[event_id] = future
        return futures


GATEWAY_KEY = web.AppKey("gateway", Gateway)


def problem(item: Problem, **headers: str) -> web.Response:
    return web.json_response(
        item.body(), status=item.status, content_type="application/problem+json", headers=headers
    )


def _credential(request: web.Request) -> Credential:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    credential = request.app[GATEWAY_KEY].store.check(token.strip()) if scheme.lower() == "bearer" else None
    if credential is None:
        raise web.HTTPUnauthorized(
            text=problem(Problem(401, "unauthorized", "A live device or app credential is needed")).text,
            content_type="application/problem+json",
            headers={"WWW-Authenticate": 'Bearer realm="ivigwatch"'},
        )
    wait = request.app[GATEWAY_KEY].rate.take(credential.credential_id, time.monotonic())
    if wait > 0:
        raise web.HTTPTooManyRequests(
            text=problem(Problem(429, "rate-limited", "Too many requests for this credential")).text,
            content_type="application/problem+json",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    return credential


async def post_events(request: web.Request) -> web.Response:
    """Contract events: one, or an ordered batch."""
    credential = _credential(request)
    gateway = request.app[GATEWAY_KEY]
    session = gateway.sessions.session_of(credential.patient_id)
    settings = gateway.settings
    body = await request.read()
    result = intake(body, credential, datetime.now(UTC), gateway.skew, settings.gateway_max_batch, session)
    return await _store(gateway, result)


async def post_fhir(request: web.Request) -> web.Response:
    """FHIR R4 vital-sign Observations (one, or a Bundle), mapped to contract vitals events."""
    credential = _credential(request)
    gateway = request.app[GATEWAY_KEY]
    if not credential.allows("vitals"):
        return problem(
            Problem(403, "forbidden-event", f"A {credential.kind.value} credential sends no vitals")
        )
    mapped = fhir_events(await request.read(), credential.credential_id)
    if isinstance(mapped, Problem):
        return problem(mapped)
    session = gateway.sessions.session_of(credential.patient_id)
    settings = gateway.settings
    result = intake_items(
        mapped, credential, datetime.now(UTC), gateway.skew, settings.gateway_max_batch, session
    )
    return await _store(gateway, result)


async def _store(gateway: Gateway, result: Accepted | Problem) -> web.Response:
    """Produce what a request brought, or answer its problem."""
    if isinstance(result, Problem):
        return problem(result)
    try:
        produced, duplicates = await gateway.produce(result)
    except (KafkaError, TimeoutError) as exc:
        log.warning("events not stored: the broker did not take them (%s)", type(exc).__name__)
        return problem(
            Problem(503, "unavailable", "The events could not be stored; send them again"),
            **{"Retry-After": "5"},
        )
    GATEWAY_EVENTS.labels(outcome="produced").inc(produced)
    GATEWAY_EVENTS.labels(outcome="duplicate").inc(duplicates)
    for event, _ in result.events:
        gateway.glances.note(event)
        if isinstance(event, Infusion):
            gateway.sessions.learn(event.patient_id, event.session_id, event.ts)
    return web.json_response({"accepted": produced, "duplicates": duplicates})


async def get_health(request: web.Request) -> web.Response:
    credential = _credential(request)
    return web.json_response(
        {"status": "ok", "patient_id": credential.patient_id, "kind": credential.kind.value}
    )


def create_gateway_app(
    settings: Settings, store: CredentialStore | None = None, sessions: SessionMemory | None = None
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[request_metrics("gateway")])
    store = store or CredentialStore(credential_path(settings.state_dir))
    sessions = sessions or SessionMemory(store.path.with_name(SESSIONS_FILE))
    app[GATEWAY_KEY] = Gateway(settings, store, sessions)
    app.router.add_post("/v1/events", post_events)
    app.router.add_post("/v1/fhir", post_fhir)
    app.router.add_get("/v1/health", get_health)
    app.router.add_route(*metrics_route(settings))  # the scrape token, not a device credential
    gateway = app[GATEWAY_KEY]
    app.router.add_routes(
        app_routes(
            settings,
            gateway.inbox,
            gateway.glances,
            _credential,
            gateway.sessions.session_of,
            gateway.feed.ready,
        )
    )
    app.on_startup.append(_start_producer)
    app.on_cleanup.append(_stop_producer)
    return app


async def _start_producer(app: web.Application) -> None:
    gateway = app[GATEWAY_KEY]
    await ensure_topics(gateway.settings)  # never let the first event create a topic of another size
    producer = kafka_clients.producer(gateway.settings, acks="all", enable_idempotence=True)
    await producer.start()
    gateway.producer = producer
    await gateway.feed.start()


async def _stop_producer(app: web.Application) -> None:
    gateway = app[GATEWAY_KEY]
    await gateway.feed.stop()
    if gateway.producer is not None:
        await gateway.producer.stop()


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, host: str | None = None, port: int | None = None, **parts: Any
) -> AsyncIterator[str]:
    """Serve the gateway in this event loop; yields its base URL. `port=0` picks a free port."""
    runner = web.AppRunner(create_gateway_app(settings, **parts))
    await runner.setup()
    try:
        yield await start_site(
            runner, host or settings.gateway_host, settings.gateway_port if port is None else port
        )
    finally:
        await runner.cleanup()
