"""/metrics on the live stack: the rule worker, the writer, the console and the gateway refuse a
scrape without the token, and their counters rise with what is sent; parsed with prometheus_client's
text parser; no label carries the patient's id."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.credentials import CredentialKind
from streams.apps.console.web_app import running_console
from streams.apps.gateway.gateway_app import running_gateway
from streams.infra.credential_store import CredentialStore
from streams.infra.kafka.topics import EVENTS_TOPIC
from tests.integration.conftest import METRICS_TOKEN, Live, as_message, event, new_patient, produce
from tests.integration.test_console_api import NURSE, PASSWORD, console_settings

pytestmark = pytest.mark.integration

SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: aiohttp.ClientSession, url: str) -> tuple[Samples, str]:
    async with http.get(f"{url}/metrics", headers=SCRAPER) as answer:
        assert answer.status == 200
        text = await answer.text()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return samples, text


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def until(
    http: aiohttp.ClientSession, url: str, done: Callable[[Samples], bool], timeout: float = 30.0
) -> tuple[Samples, str]:
    """Scrape until `done` holds (or the timeout: the caller's assertions then say what is missing)."""
    deadline = time.monotonic() + timeout
    while True:
        samples, text = await scrape(http, url)
        if done(samples) or time.monotonic() > deadline:
            return samples, text
        await asyncio.sleep(0.25)


async def refused(http: aiohttp.ClientSession, url: str) -> list[int]:
    statuses = []
    for headers in ({}, {"Authorization": "Bearer not-the-token-not-the-token"}):
        async with http.get(f"{url}/metrics", headers=headers) as answer:
            statuses.append(answer.status)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    return statuses


def base_url(health_url: str) -> str:
    return health_url.removesuffix("/healthz")


async def test_the_workers_count_events_dead_letters_alerts_writes_and_lag(live: Live) -> None:
    rules, writer = base_url(live.rules.health_url), base_url(live.writer.health_url)
    patient = new_patient()
    async with aiohttp.ClientSession() as http:
        assert await refused(http, rules) == [401, 401]
        assert await refused(http, writer) == [401, 401]
        rules_before, _ = await scrape(http, rules)
        writer_before, _ = await scrape(http, writer)
        events = [
            event(patient, -2, type="vitals", heart_rate=72, spo2=97),
            event(patient, -1, type="vitals", spo2=87),
            event(patient, 0, type="vitals", spo2=87),  # the repeat confirms the hypoxemia
        ]
        await produce(
            live.settings,
            EVENTS_TOPIC,
            [as_message(e) for e in events] + [(patient.encode(), b"{not json")],
        )

        def rose(name: str, by: float, before: Samples, **labels: str) -> Callable[[Samples], bool]:
            return lambda now: total(now, name, **labels) >= total(before, name, **labels) + by

        wanted = [
            rose("ivigwatch_events_processed_total", 3, rules_before, type="vitals"),
            rose("ivigwatch_dead_letters_total", 1, rules_before, stage="validate"),
            rose("ivigwatch_alerts_sent_total", 1, rules_before, condition="hypoxemia"),
            rose("ivigwatch_alert_latency_seconds_count", 1, rules_before),
            rose("ivigwatch_rules_checkpoint_seconds_count", 1, rules_before),
        ]
        rules_after, rules_text = await until(http, rules, lambda s: all(w(s) for w in wanted))
        written = [
            rose("ivigwatch_writer_records_total", 4, writer_before, outcome="written"),  # 3 events, an alert
            rose("ivigwatch_influx_write_seconds_count", 1, writer_before, outcome="ok"),
            rose("ivigwatch_writer_batch_seconds_count", 1, writer_before),
        ]
        writer_after, writer_text = await until(http, writer, lambda s: all(w(s) for w in written))
    assert [w(rules_after) for w in wanted] == [True] * len(wanted)
    assert [w(writer_after) for w in written] == [True] * len(written)
    lag = {dict(ls)["partition"] for (n, ls), _ in rules_after.items() if n == "ivigwatch_consumer_lag"}
    assert lag == {"0", "1", "2", "3"}  # every events partition (4) is the single rule worker's
    assert all(v >= 0 for (n, _), v in rules_after.items() if n == "ivigwatch_consumer_lag")
    assert patient not in rules_text and patient not in writer_text


async def test_the_console_counts_logins_and_streams_behind_the_scrape_token(live: Live) -> None:
    async with running_console(console_settings(live), "127.0.0.1", 0) as url:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            assert await refused(http, url) == [401, 401]
            before, _ = await scrape(http, url)
            bad = await http.post(f"{url}/login", data={"username": NURSE, "password": "wrong"})
            good = await http.post(f"{url}/login", data={"username": NURSE, "password": PASSWORD})
            assert bad.status == good.status == 200  # redirects followed: the form, the console
            async with http.get(f"{url}/api/stream") as stream:
                await stream.content.readuntil(b"event: snapshot")
                during, _ = await scrape(http, url)
            after, text = await scrape(http, url)
    assert NURSE not in text  # who logged in is not a label
    assert (
        total(after, "ivigwatch_console_logins_total", outcome="ok")
        == total(before, "ivigwatch_console_logins_total", outcome="ok") + 1
    )
    assert (
        total(after, "ivigwatch_console_logins_total", outcome="failed")
        == total(before, "ivigwatch_console_logins_total", outcome="failed") + 1
    )
    assert (
        total(during, "ivigwatch_console_open_streams") == total(before, "ivigwatch_console_open_streams") + 1
    )
    posted = total(after, "ivigwatch_http_requests_total", server="console", route="/login", method="POST")
    assert (
        posted
        == total(before, "ivigwatch_http_requests_total", server="console", route="/login", method="POST") + 2
    )
    assert (
        total(after, "ivigwatch_http_requests_total", server="console", route="/metrics", status="401") >= 2
    )


async def test_the_gateway_counts_requests_by_status_and_events_behind_the_scrape_token(
    live: Live, tmp_path: Path
) -> None:
    settings = live.settings.model_copy(update={"simulated_clock": False})
    store = CredentialStore(tmp_path / "credentials.json")
    patient = new_patient()
    _, token = store.issue(patient, CredentialKind.DEVICE, "cuff", datetime.now(UTC))
    reading = {
        "type": "vitals",
        "event_id": "cuff-metrics-1",
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "patient_id": patient,
        "session_id": f"{patient}-s1",
        "systolic_bp": 121,
    }
    async with running_gateway(settings, "127.0.0.1", 0, store=store) as url, aiohttp.ClientSession() as http:
        assert await refused(http, url) == [401, 401]
        before, _ = await scrape(http, url)
        device = {"Authorization": f"Bearer {token}"}
        for _ in range(2):  # the resend is a duplicate
            async with http.post(f"{url}/v1/events", data=json.dumps(reading), headers=device) as answer:
                assert answer.status == 200
        async with http.post(f"{url}/v1/events", data=json.dumps(reading)) as answer:
            assert answer.status == 401
        after, text = await scrape(http, url)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    events = "ivigwatch_http_requests_total"
    assert delta(events, server="gateway", route="/v1/events", method="POST", status="200") == 2
    assert delta(events, server="gateway", route="/v1/events", method="POST", status="401") == 1
    assert delta("ivigwatch_gateway_events_total", outcome="produced") == 1
    assert delta("ivigwatch_gateway_events_total", outcome="duplicate") == 1
    assert patient not in text and token not in text
