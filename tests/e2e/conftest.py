"""The nurse console in a real browser: Playwright drives Debian's chromium (never a downloaded one)
against `ivigwatch console` on a stack of its own (Kafka, InfluxDB, the rules worker and the writer).

One stack, one console and one browser per module; each test gets a fresh browser context (its own
cookies) and saves screenshots under artifacts/e2e/. These tests never skip: if chromium, a server or
the console cannot start, the run fails and says why.
"""

from __future__ import annotations

import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from oidc_provider_mock import run_server_in_thread
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from deploy.browser import LAUNCH_ARGS, chromium_path
from deploy.console_process import ConsoleProcess, start_console, stop_console
from deploy.processes import free_port
from streams.apps.console.auth import hash_password
from streams.infra.kafka import kafka_clients
from streams.infra.settings import REPO_ROOT, Settings
from tests.integration.conftest import Collector, local_settings, running_stack

ARTIFACTS = REPO_ROOT / "artifacts" / "e2e"
NURSE = "rn-e2e"
ANALYST = "an-e2e"
"""A local account with the analyst role (same password as the nurse)."""
CHARGE = "cn-e2e"
"""A local account with the charge nurse role: patient limits and snoozes (same password)."""
SSO_ROLES = "ivig-nurses=nurse,ivig-analysts=analyst"


@dataclass
class ConsoleServer:
    settings: Settings
    process: ConsoleProcess
    password: str

    @property
    def url(self) -> str:
        return self.process.url


@dataclass
class EventClock:
    """Event times of the module's scenarios, each after the last one sent.

    The rules worker's live clock is the later of the wall clock and the latest event time it has
    seen, for every patient at once: a scenario timed before an earlier one's last event would see
    its escalations fall due at once. So each scenario starts after everything already sent.
    """

    latest: datetime = field(default_factory=lambda: datetime.now(UTC))

    def patient(self) -> Patient:
        start = max(datetime.now(UTC), self.latest) + timedelta(seconds=1)
        return Patient(f"pt-{uuid.uuid4().hex[:10]}", start, self)


@dataclass
class Patient:
    patient_id: str
    start: datetime
    clock: EventClock

    @property
    def session_id(self) -> str:
        return f"{self.patient_id}-s1"

    def alert_id(self, condition: str, n: int = 1) -> str:
        return f"{self.session_id}:{condition}:{n}"

    def event(self, minutes: float, **fields: Any) -> dict[str, Any]:
        """An event `minutes` after this patient's start (moves the module's event clock)."""
        ts = self.start + timedelta(minutes=minutes)
        self.clock.latest = max(self.clock.latest, ts)
        base: dict[str, Any] = {"patient_id": self.patient_id, "ts": ts.isoformat().replace("+00:00", "Z")}
        if fields.get("type") != "profile":
            base["session_id"] = self.session_id
        return {**base, **fields}


class TopicCollector(Collector):
    """The integration tests' Collector on the topics named (for example what the console sent to
    ivig.actions.v1), read from their end: start it before the click or message it waits for."""

    def __init__(self, settings: Settings, *topics: str) -> None:
        super().__init__(settings)
        self.topics = topics

    async def start(self) -> None:
        for topic in self.topics:
            consumer = kafka_clients.consumer(self.settings, topic, group_id=None, auto_offset_reset="latest")
            await consumer.start()
            await consumer.seek_to_end()
            for tp in consumer.assignment():
                await consumer.position(tp)  # pin the position now, before anything is produced
            self.consumers[topic] = consumer
        self.seen = {topic: [] for topic in self.consumers}


@pytest.fixture(scope="module")
def oidc_issuer() -> Iterator[str]:
    """A real OpenID Connect provider (oidc-provider-mock) on a thread: the console's single sign-on."""
    with run_server_in_thread(port=0, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def e2e_settings(tmp_path_factory: pytest.TempPathFactory, oidc_issuer: str) -> tuple[Settings, str]:
    """Settings of the module's stack and console: a nurse, an analyst and a charge nurse account (one
    fresh random password) and single sign-on through the module's identity provider."""
    password = secrets.token_urlsafe(12)
    hashed = hash_password(password)
    settings = local_settings(
        tmp_path_factory.mktemp("e2e"),
        influx_db="ivigwatch_e2e",
        tick_seconds=1.0,
        topic_partitions=2,
        console_port=free_port(),
        console_users=f"{NURSE}:{hashed},{ANALYST}:{hashed}:analyst,{CHARGE}:{hashed}:charge_nurse",
        console_secret=secrets.token_hex(32),
        console_oidc_issuer=oidc_issuer,
        console_oidc_client_id="ivigwatch-console",
        console_oidc_client_secret=secrets.token_hex(16),
        console_oidc_roles=SSO_ROLES,
    )
    return settings, password


@pytest.fixture(scope="module")
def console(e2e_settings: tuple[Settings, str]) -> Iterator[ConsoleServer]:
    """The stack (rules worker and writer, healthy) and the console, up for the whole module."""
    settings, password = e2e_settings
    with running_stack(settings, ("rules", "writer")):
        process = start_console(settings)
        try:
            yield ConsoleServer(settings, process, password)
        finally:
            stop_console(process)


@pytest.fixture(scope="module")
def event_clock() -> EventClock:
    return EventClock()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path(log=lambda line: print(line, file=sys.stderr))
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def anonymous(browser: Browser, console: ConsoleServer) -> AsyncIterator[BrowserContext]:
    """A fresh browser context with no session cookie."""
    context = await browser.new_context(base_url=console.url, viewport={"width": 1400, "height": 900})
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(anonymous: BrowserContext, console: ConsoleServer) -> AsyncIterator[Page]:
    """A page of the console, logged in as the test nurse (the form itself is tested on its own).

    Dialogs (a confirm or a note prompt) are accepted; an uncaught script error fails the test.
    """
    errors: list[str] = []
    response = await anonymous.request.post("/login", form={"username": NURSE, "password": console.password})
    assert response.ok and response.url.endswith("/"), f"login refused: {response.status} {response.url}"
    tab = await anonymous.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept("seen by the e2e nurse"))
    await tab.goto("/")
    yield tab
    assert not errors, f"script errors in the console page: {errors}"


async def login_with_form(tab: Page, name: str, password: str) -> None:
    """What a nurse does: the login form, submitted by clicking its button."""
    await tab.goto("/login")
    await tab.fill("input#username", name)
    await tab.fill("input#password", password)
    async with tab.expect_navigation():
        await tab.click("button#login")


async def screenshot(tab: Page, name: str) -> Path:
    """Save a full-page screenshot as artifacts/e2e/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await tab.screenshot(path=str(path), full_page=True)
    return path
