"""The pager bridge on the real broker: a pager worker (a child process) posts to a webhook served by
this test process. Urgent and critical alerts are delivered once, retried through 5xx, dead-lettered
on a 4xx, and a restarted worker does not page again what it delivered.

The worker and the webhook live for the module (one event loop for the module, so the webhook keeps
answering while a test waits); blocking worker calls run in a thread for the same reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from deploy.processes import free_port
from deploy.workers import WorkerProcess, start_worker, stop_worker, wait_healthy
from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import METRICS_TOKEN, Collector, Live, as_message, new_patient, produce
from tests.integration.test_pipeline import infusion_with_anaphylaxis

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Call:
    key: str
    alert_id: str
    status: int
    body: dict[str, Any]
    at: float


@dataclass
class Webhook:
    """The pager service's stand-in: answers 200 unless told otherwise for an alert id."""

    answers: dict[str, list[int]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    runner: web.AppRunner | None = None
    url: str = ""
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/page", self.page)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/page"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def page(self, request: web.Request) -> web.Response:
        body = await request.json()
        alert_id = body["alert"]["alert_id"]
        script = self.answers.get(alert_id, [])
        status = script.pop(0) if script else 200
        key = request.headers.get("Idempotency-Key", "")
        self.calls.append(Call(key, alert_id, status, body, time.monotonic()))
        self.called.set()
        return web.json_response({"ok": status < 300}, status=status)

    def delivered(self, alert_id: str) -> list[Call]:
        return [c for c in self.calls if c.alert_id == alert_id and c.status < 300]

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 20.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while not (found := [c for c in self.calls if predicate(c)]) and time.monotonic() < deadline:
            self.called.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.called.wait(), max(0.0, deadline - time.monotonic()))
        return found


@dataclass
class Pager:
    settings: Settings
    worker: WorkerProcess
    webhook: Webhook
    collector: Collector

    async def restart(self) -> None:
        await asyncio.to_thread(stop_worker, self.worker)
        self.worker = start_worker("pager", self.settings)
        await asyncio.to_thread(wait_healthy, self.worker, 60)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pager(live: Live) -> AsyncIterator[Pager]:
    webhook = Webhook()
    await webhook.start()
    settings = live.settings.model_copy(
        update={
            "pager_webhook_url": webhook.url,
            "pager_web_port": free_port(),
            "pager_app_id": f"ivigwatch-pager-{uuid.uuid4().hex[:6]}",
            "pager_timeout_seconds": 2.0,
        }
    )
    collector = Collector(settings)
    await collector.start()
    worker = start_worker("pager", settings)
    found = Pager(settings, worker, webhook, collector)
    try:
        await asyncio.to_thread(wait_healthy, worker, 60)
        yield found
    finally:
        await asyncio.to_thread(stop_worker, found.worker)
        await collector.stop()
        await webhook.stop()


def alert(
    patient: str, condition: str = "fever", status: str = "firing", severity: str = "urgent", level: int = 0
) -> Alert:
    return Alert(
        alert_id=f"{patient}-s1:{condition}:1",
        patient_id=patient,
        session_id=f"{patient}-s1",
        status=AlertStatus(status),
        severity=Severity(severity),
        condition=Condition(condition),
        ts=datetime.now(UTC),
        escalation_level=level,
        title=f"{condition} (test)",
        evidence=Evidence(summary="test", phase="infusing"),
        action="call the patient",
        rule=RuleRef(id=f"{condition}.test", version="test"),
        page=status in ("firing", "escalated"),  # as the rules set it (contract v2)
    )


async def send(pager: Pager, *alerts: Alert) -> None:
    messages = [(a.patient_id.encode(), a.model_dump_json().encode()) for a in alerts]
    await produce(pager.settings, ALERTS_TOPIC, messages)


async def test_a_critical_alert_of_the_rules_worker_is_paged_once_with_the_alert_json(pager: Pager) -> None:
    patient = new_patient()
    alert_id = f"{patient}-s1:anaphylaxis:1"
    await produce(pager.settings, EVENTS_TOPIC, [as_message(e) for e in infusion_with_anaphylaxis(patient)])
    calls = await pager.webhook.wait_for(lambda c: c.alert_id == alert_id)
    assert [c.status for c in calls] == [200]
    on_topic = await pager.collector.wait_for(ALERTS_TOPIC, lambda m: m["alert_id"] == alert_id)
    page = calls[0].body
    assert page["alert"] == on_topic[0]  # the alert message as on ivig.alerts.v1
    assert page["text"].startswith("CRITICAL NEW: ") and "epinephrine" in page["text"]
    assert calls[0].key == page["idempotency_key"] == f"{alert_id}|firing|0|critical"
    # Its info (high_risk_session) and warning (infusion_reaction) alerts came first: not paged.
    assert {c.alert_id for c in pager.webhook.calls if c.alert_id.startswith(patient)} == {alert_id}


async def test_5xx_twice_then_200_is_delivered_once_after_backoff(pager: Pager) -> None:
    patient = new_patient()
    first, marker = alert(patient), alert(patient, "hypotension", severity="critical")
    pager.webhook.answers[first.alert_id] = [503, 500]
    await send(pager, first, first, marker)  # sent twice by an at-least-once producer
    assert await pager.webhook.wait_for(lambda c: c.alert_id == marker.alert_id)
    calls = [c for c in pager.webhook.calls if c.alert_id == first.alert_id]
    assert [c.status for c in calls] == [503, 500, 200]
    assert calls[1].at - calls[0].at >= 0.45 and calls[2].at - calls[1].at >= 0.95
    assert len({c.key for c in calls}) == 1


async def test_a_4xx_is_dead_lettered_with_a_reason_and_paging_goes_on(pager: Pager) -> None:
    patient = new_patient()
    refused, after = alert(patient, severity="critical"), alert(patient, "hypoxemia")
    pager.webhook.answers[refused.alert_id] = [400]
    await send(pager, refused, after)
    dead = await pager.collector.wait_for(
        DEADLETTER_TOPIC,
        lambda m: m["stage"] == "page" and refused.alert_id.encode() in base64.b64decode(m["raw_base64"]),
    )
    assert dead, "no dead letter for the refused page"
    assert dead[0]["errors"] == ["(pager): the webhook refused the page with HTTP 400 [page_refused]"]
    assert dead[0]["source"]["topic"] == ALERTS_TOPIC
    assert Alert.model_validate_json(base64.b64decode(dead[0]["raw_base64"])) == refused
    assert await pager.webhook.wait_for(lambda c: c.alert_id == after.alert_id and c.status == 200)
    assert [c.status for c in pager.webhook.calls if c.alert_id == refused.alert_id] == [400]


async def test_a_restarted_pager_does_not_page_again_what_it_delivered(pager: Pager) -> None:
    patient = new_patient()
    firing = alert(patient)
    await send(pager, firing)
    assert await pager.webhook.wait_for(lambda c: c.alert_id == firing.alert_id)
    delivered_before = {c.key for c in pager.webhook.calls if c.status < 300}

    await pager.restart()
    escalated = alert(patient, status="escalated", level=1)
    other = alert(new_patient(), severity="critical")
    await send(pager, firing, escalated, other)  # the firing one again: a resend, not a new update
    assert await pager.webhook.wait_for(lambda c: c.alert_id == other.alert_id)
    assert await pager.webhook.wait_for(lambda c: c.key == f"{escalated.alert_id}|escalated|1|urgent")
    await asyncio.sleep(1.0)

    per_key: dict[str, int] = {}
    for call in pager.webhook.calls:
        if call.status < 300:
            per_key[call.key] = per_key.get(call.key, 0) + 1
    assert {k: n for k, n in per_key.items() if n > 1} == {}, "an update was paged twice"
    assert delivered_before < set(per_key)
    health = pager.worker.health()
    assert health is not None and health["role"] == "pager" and health["counts"]["paged"] >= 2


async def test_its_metrics_count_deliveries_retries_and_failures_behind_the_scrape_token(
    pager: Pager,
) -> None:
    base = pager.worker.health_url.removesuffix("/healthz")
    Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

    async def scrape() -> Samples:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as answer,
        ):
            assert answer.status == 200
            text = await answer.text()
        assert "pt-" not in text  # no patient id in any label
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as refused:
        assert refused.status == 401
    before = await scrape()
    patient = new_patient()
    retried, refused_page = alert(patient, severity="critical"), alert(patient, "hypoxemia")
    pager.webhook.answers[retried.alert_id] = [503]
    pager.webhook.answers[refused_page.alert_id] = [400]
    await send(pager, retried, refused_page)
    expected = {
        (
            "ivigwatch_pager_deliveries_total",
            frozenset({("severity", "critical"), ("outcome", "delivered")}),
        ): 1,
        ("ivigwatch_pager_deliveries_total", frozenset({("severity", "urgent"), ("outcome", "failed")})): 1,
        ("ivigwatch_pager_retries_total", frozenset()): 1,
        ("ivigwatch_page_latency_seconds_count", frozenset({("severity", "critical")})): 1,
        ("ivigwatch_dead_letters_total", frozenset({("stage", "page")})): 1,
    }
    deadline = time.monotonic() + 20.0
    while True:  # the worker counts once the webhook has answered: scrape until it has
        after = await scrape()
        rose = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in expected}
        if rose == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    assert rose == expected
    lag = [labels for (name, labels) in after if name == "ivigwatch_consumer_lag"]
    assert lag and all(("topic", ALERTS_TOPIC) in labels for labels in lag)  # the alerts it reads
