"""The patient app in a real browser (Debian's chromium, a phone-sized viewport) on the real
pipeline: the app logs in with its code, sends vitals and symptoms through the gateway, receives
"measure again" and an urgent instruction live (full screen, and the nurse's incident then says the
patient saw it), and answers a day-2 check-in whose answers raise an aseptic meningitis alert that
shows in the nurse console."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from models.credentials import CredentialKind
from streams.apps.gateway.gateway_app import running_gateway
from streams.infra.credential_store import CredentialStore
from streams.infra.kafka.topics import ALERTS_TOPIC
from tests.e2e.conftest import ConsoleServer, TopicCollector, screenshot

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PHONE = {"width": 390, "height": 844}
LIVE = 30_000
"""How long a message may take through gateway, broker, rules and back to the app (ms)."""


@dataclass
class GatewayServer:
    url: str
    store: CredentialStore


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway(
    console: ConsoleServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GatewayServer]:
    """The gateway next to the module's stack and console, in the test's event loop."""
    store = CredentialStore(tmp_path_factory.mktemp("gateway") / "credentials.json")
    settings = console.settings.model_copy(update={"care_team_phone": "+15550100"})
    async with running_gateway(settings, "127.0.0.1", 0, store=store) as url:
        yield GatewayServer(url, store)


@pytest_asyncio.fixture(loop_scope="module")
async def phone(browser: Browser, gateway: GatewayServer) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(base_url=gateway.url, viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        yield context
    finally:
        await context.close()


def ts(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def upload(gateway: GatewayServer, token: str, events: list[dict[str, Any]]) -> None:
    """What a device does: one batch to the gateway, stored before it answers."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gateway.url}/v1/events", json=events, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status == 200, await response.text()


def enrol(gateway: GatewayServer, patient: str, kind: CredentialKind) -> str:
    return gateway.store.issue(patient, kind, kind.value, datetime.now(UTC))[1]


async def open_app(phone: BrowserContext, token: str) -> Page:
    tab = await phone.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    await tab.goto("/app")
    await tab.fill("input#token", token)
    await tab.click("button#login-button")
    await expect(tab.locator("main#home")).to_be_visible(timeout=LIVE)
    tab.errors = errors  # type: ignore[attr-defined]
    return tab


async def enter_vitals(tab: Page, **values: float) -> None:
    for name, value in values.items():
        await tab.fill(f"input#v-{name}", str(value))
    await tab.click("button#vitals-send")
    await expect(tab.locator("#status")).to_have_text("vitals sent.", timeout=LIVE)
    for name in values:  # the form is cleared once the gateway stored the reading
        await expect(tab.locator(f"input#v-{name}")).to_have_value("", timeout=LIVE)


async def test_log_in_enter_vitals_and_get_measure_again_then_an_urgent_instruction_live(
    phone: BrowserContext, gateway: GatewayServer, console: ConsoleServer
) -> None:
    patient = f"pt-app-{datetime.now(UTC):%H%M%S%f}"
    app, pump = enrol(gateway, patient, CredentialKind.APP), enrol(gateway, patient, CredentialKind.PUMP)
    now = datetime.now(UTC)
    start = {"type": "infusion", "event_id": "pump-1", "session_id": f"{patient}-s1", "action": "start"}
    await upload(gateway, pump, [{**start, "ts": ts(now - timedelta(minutes=2)), "rate_ml_per_h": 60}])
    tab = await open_app(phone, app)
    await expect(tab.locator("#infusion")).to_have_text(re.compile("Running at 60 mL/h"), timeout=LIVE)

    await enter_vitals(
        tab, heart_rate=72, spo2=98, systolic_bp=122, diastolic_bp=78, temperature_c=36.8, respiratory_rate=14
    )
    await expect(tab.locator("#reading-list li").first).to_contain_text("BP top 122", timeout=LIVE)
    await enter_vitals(tab, systolic_bp=86, diastolic_bp=52)  # one low reading: asked to measure again
    await expect(tab.locator("#reading-list li").first).to_contain_text("BP top 86", timeout=LIVE)
    await expect(tab.locator("#next")).to_contain_text("measure your blood pressure again", timeout=LIVE)

    alerts = TopicCollector(console.settings, ALERTS_TOPIC)
    await alerts.start()
    try:
        # Hives with the low reading of a minute ago: skin and low blood pressure together meet the
        # anaphylaxis criteria, and the instruction covers the screen at once (a second tap could
        # land on it: it flaked so when one was made here)
        await tab.get_by_role("button", name="Hives").click()
        alarm = tab.locator("#alarm")
        await expect(alarm).to_be_visible(timeout=LIVE)
        await expect(tab.locator("#alarm-text")).to_contain_text("epinephrine")
        await expect(tab.locator("#alarm-call")).to_have_attribute("href", "tel:+15550100")
        await screenshot(tab, "patient-app-instruction")
        seen = await alerts.wait_for(
            ALERTS_TOPIC,
            lambda m: m["patient_id"] == patient and "seen by the patient" in (m.get("note") or ""),
            timeout=LIVE / 1000,
        )
        assert seen, "the nurse's incident never said that the patient saw the instruction"
        assert seen[0]["condition"] == "incident" and not seen[0]["page"]
        await tab.click("button#alarm-ok")
        await expect(alarm).to_be_hidden(timeout=LIVE)
    finally:
        await alerts.stop()
    assert not tab.errors  # type: ignore[attr-defined]


async def test_the_readiness_check_says_do_not_start_and_a_report_sent_offline_goes_when_back_online(
    phone: BrowserContext, gateway: GatewayServer
) -> None:
    patient = f"pt-rdy-{datetime.now(UTC):%H%M%S%f}"
    app, pump = enrol(gateway, patient, CredentialKind.APP), enrol(gateway, patient, CredentialKind.PUMP)
    now = datetime.now(UTC)
    planned = {"type": "infusion", "event_id": "pump-0", "session_id": f"{patient}-s1", "action": "status"}
    await upload(gateway, pump, [{**planned, "ts": ts(now - timedelta(minutes=1))}])  # the pump is set up
    tab = await open_app(phone, app)  # (the readiness check names no session: it is the day's)
    await tab.click("button#ready-send")  # nothing answered yet: every question is asked for
    await expect(tab.locator("#status")).to_have_text("Answer every question before you start.")
    answers = {
        "feeling_unwell": "no",
        "feverish": "no",
        "well_hydrated": "yes",
        "premedication_taken": "none",
    }
    for name, value in {**answers, "epinephrine_at_hand": "no"}.items():
        await tab.select_option(f"select#r-{name}", value)
    await tab.click("button#ready-send")
    answer = tab.locator("#ready-answer")
    await expect(answer).to_contain_text("Do not start your infusion yet", timeout=LIVE)
    await expect(answer).to_contain_text("epinephrine")
    await expect(tab.locator("#alarm-text")).to_contain_text("A nurse is calling you", timeout=LIVE)
    await tab.click("button#alarm-ok")  # the urgent not_ready incident: shown full screen too

    await phone.set_offline(True)  # the phone loses its connection: the report waits, then goes
    try:
        await tab.get_by_role("button", name="Dizzy").click()
        await expect(tab.locator("#status")).to_contain_text("Waiting for a connection")
    finally:
        await phone.set_offline(False)
    await expect(tab.locator("#status")).to_have_text('"Dizzy" sent.', timeout=LIVE)
    await expect(tab.get_by_role("button", name="Dizzy")).to_have_class(re.compile(r"\bsent\b"))
    assert not tab.errors  # type: ignore[attr-defined]


async def test_a_day_2_check_in_answered_in_the_app_raises_aseptic_meningitis_in_the_console(
    phone: BrowserContext, gateway: GatewayServer, page: Page
) -> None:
    patient = f"pt-chk-{datetime.now(UTC):%H%M%S%f}"
    session = f"{patient}-s1"
    app, pump = enrol(gateway, patient, CredentialKind.APP), enrol(gateway, patient, CredentialKind.PUMP)
    stop = datetime.now(UTC) - timedelta(hours=48, minutes=2)  # the day-2 check-in fell due 2 min ago
    pump_events = [
        {
            "type": "infusion",
            "event_id": "p-1",
            "session_id": session,
            "action": "start",
            "rate_ml_per_h": 60,
        },
        {"type": "infusion", "event_id": "p-2", "session_id": session, "action": "stop"},
    ]
    pump_events[0]["ts"], pump_events[1]["ts"] = ts(stop - timedelta(hours=3)), ts(stop)
    await upload(gateway, pump, pump_events)  # uploaded late, as a pump that was offline does

    tab = await open_app(phone, app)
    checkin = tab.locator("section#checkin")
    await expect(checkin).to_be_visible(timeout=LIVE)
    await expect(tab.locator("#checkin-text")).to_contain_text("Day 2")
    await tab.check("input#q-headache")
    await tab.select_option("select#q-headache-grade", "severe")
    await tab.check("input#q-neck_stiffness")
    await tab.click("button#checkin-send")
    await expect(checkin).to_be_hidden(timeout=LIVE)

    row = page.locator(
        f'table#open-alerts tbody tr.alert-row[data-alert-id="{session}:aseptic_meningitis:1"]'
    )
    await expect(row).to_be_visible(timeout=LIVE)
    await expect(row).to_have_attribute("data-severity", "urgent")
    await expect(tab.locator("#alarm-text")).to_contain_text("needs a doctor today", timeout=LIVE)
    await screenshot(page, "console-meningitis-from-check-in")
    assert not tab.errors  # type: ignore[attr-defined]
