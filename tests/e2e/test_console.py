"""The nurse console in a real browser on the real pipeline: events in Kafka become alert rows over
SSE, a nurse's click acknowledges (and stops the escalation), the session chart draws, anonymous
requests are refused and the alarm sound can be muted. docs/console-contract.md fixes the DOM."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from datetime import datetime
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from streams.infra.kafka.topics import ALERTS_TOPIC, EVENTS_TOPIC
from tests.e2e.conftest import NURSE, ConsoleServer, EventClock, Patient, login_with_form, screenshot
from tests.integration.conftest import Collector, as_message, produce, wait_for_points

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SHAPES = "path, circle, polyline, polygon, line, rect, ellipse"


def row(tab: Page, alert_id: str) -> Locator:
    return tab.locator(f'table#open-alerts tbody tr.alert-row[data-alert-id="{alert_id}"]')


def anaphylaxis(patient: Patient) -> list[dict[str, Any]]:
    """A first infusion with hives then throat tightness: a critical anaphylaxis alert at minute 3."""
    return [
        patient.event(0, type="profile", risk_factors=["first_infusion"], epinephrine_available=True),
        patient.event(
            0, type="vitals", heart_rate=74, systolic_bp=124, diastolic_bp=80, temperature_c=36.7, spo2=98
        ),
        patient.event(1, type="infusion", action="start", rate_ml_per_h=40, product="Privigen"),
        patient.event(2, type="symptom", symptom="hives", severity="moderate"),
        patient.event(3, type="symptom", symptom="throat_tightness", severity="severe"),
    ]


async def send(console: ConsoleServer, events: list[dict[str, Any]]) -> None:
    await produce(console.settings, EVENTS_TOPIC, [as_message(e) for e in events])


async def api_alerts(tab: Page) -> dict[str, Any]:
    """GET /api/alerts with the page's session cookie."""
    response = await tab.request.get("/api/alerts")
    assert response.status == 200, await response.text()
    payload: dict[str, Any] = await response.json()
    return payload


async def test_an_event_in_kafka_shows_up_as_an_alert_row_within_seconds(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    await expect(page.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    patient = event_clock.patient()
    alert_id = patient.alert_id("anaphylaxis")
    started = time.monotonic()
    await send(console, anaphylaxis(patient))
    alert = row(page, alert_id)
    await expect(alert).to_be_visible(timeout=15_000)
    latency = time.monotonic() - started
    await screenshot(page, "alert-row-live")
    assert latency < 10, f"the alert row took {latency:.1f} s"
    await expect(alert).to_have_attribute("data-severity", "critical")
    await expect(alert).to_have_attribute("data-status", "firing")
    await expect(alert).to_have_class(re.compile(r"\bcritical\b"))
    await expect(alert.locator("td.patient")).to_contain_text(patient.patient_id)
    await expect(alert.locator("td.condition")).to_contain_text(re.compile("anaphylaxis", re.IGNORECASE))
    await expect(alert.locator(f'a[href$="/sessions/{patient.session_id}"]')).to_have_count(1)
    for cell in ("severity", "age", "escalation", "evidence", "action"):
        await expect(alert.locator(f"td.{cell}")).to_have_count(1)
    for button in ("ack", "resolve", "note"):
        await expect(alert.locator(f"button.{button}")).to_be_visible()


async def test_acknowledging_changes_the_row_and_stops_the_escalation(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    acked, control = event_clock.patient(), event_clock.patient()
    acked_id, control_id = acked.alert_id("anaphylaxis"), control.alert_id("anaphylaxis")
    collector = Collector(console.settings)
    await collector.start()
    try:
        await send(console, anaphylaxis(acked) + anaphylaxis(control))
        acked_row, control_row = row(page, acked_id), row(page, control_id)
        await expect(acked_row).to_have_attribute("data-status", "firing", timeout=15_000)
        await expect(control_row).to_have_attribute("data-status", "firing", timeout=15_000)
        escalation_cell = await acked_row.locator("td.escalation").inner_text()

        await acked_row.locator("button.ack").click()
        await expect(acked_row).to_have_attribute("data-status", "acknowledged", timeout=10_000)
        await screenshot(page, "alert-acknowledged")
        ack = await collector.wait_for(
            ALERTS_TOPIC, lambda m: m["alert_id"] == acked_id and m["status"] == "acknowledged"
        )
        assert ack, "no acknowledged message on ivig.alerts.v1"
        assert ack[0]["by"] == NURSE

        # Both alerts fired at minute 3 and a critical alert escalates 5 minutes later: a reading at
        # minute 10 moves the rules worker's clock past that. The unacknowledged one escalates...
        await send(
            console,
            [acked.event(10, type="vitals", heart_rate=80, systolic_bp=120, diastolic_bp=78, spo2=97)],
        )
        escalated = await collector.wait_for(
            ALERTS_TOPIC, lambda m: m["alert_id"] == control_id and m["status"] == "escalated", timeout=20
        )
        assert escalated, "the control alert did not escalate: the clock did not move past its due time"
        await expect(control_row).to_have_attribute("data-status", "escalated", timeout=10_000)
        await asyncio.sleep(3 * console.settings.tick_seconds)  # a few more ticks of the rules worker
        await collector.wait_for(ALERTS_TOPIC, lambda m: False, timeout=1)  # read what is left
        # ... the acknowledged one does not.
        messages = [m for m in collector.seen[ALERTS_TOPIC] if m["alert_id"] == acked_id]
        assert [m["status"] for m in messages] == ["firing", "acknowledged"]
        assert messages[-1]["escalation_level"] == 0
    finally:
        await collector.stop()
    await expect(acked_row).to_have_attribute("data-status", "acknowledged")
    assert await acked_row.locator("td.escalation").inner_text() == escalation_cell
    await screenshot(page, "alert-acknowledged-no-escalation")
    views = {a["alert_id"]: a for a in (await api_alerts(page))["open"]}
    assert (views[acked_id]["status"], views[acked_id]["escalation_level"]) == ("acknowledged", 0)
    assert NURSE in views[acked_id]["acted_by"]
    assert (views[control_id]["status"], views[control_id]["escalation_level"]) == ("escalated", 1)


async def test_the_session_page_draws_the_vitals_chart(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    patient = event_clock.patient()
    readings = [(-10, 36.7, 72), (-5, 36.6, 74), (0, 36.7, 73), (10, 36.8, 76), (20, 37.1, 82)]
    readings += [(25, 37.6, 90), (30, 38.4, 104)]
    events = [patient.event(-15, type="profile", risk_factors=["first_infusion"], epinephrine_available=True)]
    events += [
        patient.event(
            m, type="vitals", temperature_c=t, heart_rate=hr, systolic_bp=122, diastolic_bp=78, spo2=98
        )
        for m, t, hr in readings
    ]
    events += [
        patient.event(1, type="infusion", action="start", rate_ml_per_h=40, product="Privigen"),
        patient.event(15, type="infusion", action="rate_change", rate_ml_per_h=80, product="Privigen"),
        patient.event(24, type="infusion", action="rate_change", rate_ml_per_h=120, product="Privigen"),
        patient.event(27, type="symptom", symptom="chills", severity="moderate"),
    ]
    await send(console, sorted(events, key=lambda e: datetime.fromisoformat(e["ts"])))
    fever = row(page, patient.alert_id("fever"))
    await expect(fever).to_be_visible(timeout=15_000)
    where = f"WHERE session_id = '{patient.session_id}'"
    vitals = await wait_for_points(console.settings, f"SELECT * FROM vitals {where}", len(readings))
    assert len(vitals) == len(readings), "the writer has not stored the session's readings"
    assert await wait_for_points(console.settings, f"SELECT * FROM alerts {where}", 1)

    async with page.expect_navigation():
        await fever.locator(f'a[href$="/sessions/{patient.session_id}"]').first.click()
    assert page.url.endswith(f"/sessions/{patient.session_id}")
    chart = page.locator("#vitals-chart")
    await expect(chart).to_be_visible(timeout=10_000)
    tag = await chart.evaluate("el => el.tagName.toLowerCase()")
    drawn = await page.wait_for_function(
        """([tag, shapes]) => {
            const el = document.querySelector('#vitals-chart');
            if (tag === 'canvas') {
                const data = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
                let inked = 0;
                for (let i = 0; i < data.length; i += 4) {
                    const white = data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245;
                    if (data[i + 3] !== 0 && !white) inked++;
                }
                return inked > 2000 ? inked : 0;
            }
            const n = el.querySelectorAll(shapes).length;
            return n > 20 ? n : 0;
        }""",
        arg=[tag, SHAPES],
        timeout=10_000,
    )
    assert await drawn.json_value() > 0
    await expect(page.locator("section#baseline")).to_contain_text("36.7")
    await expect(page.locator("section#risk-factors")).to_contain_text(re.compile(r"first.infusion"))
    await screenshot(page, "session-chart")


async def test_anonymous_requests_are_refused(anonymous: BrowserContext, console: ConsoleServer) -> None:
    tab = await anonymous.new_page()
    for path in ("/", "/sessions/pt-nobody-s1"):
        await tab.goto(path)
        assert re.search(r"/login(\?|$)", tab.url), f"{path} did not go to /login but to {tab.url}"
    await expect(tab.locator("input#username")).to_be_visible()
    await expect(tab.locator("input#password")).to_be_visible()
    await screenshot(tab, "anonymous-login")

    for path in ("/api/alerts", "/api/stream", "/api/sessions/pt-nobody-s1"):
        response = await anonymous.request.get(path)
        assert response.status == 401, f"{path}: {response.status}"
        assert isinstance(await response.json(), dict)
    post = await anonymous.request.post(
        "/api/alerts/pt-nobody-s1:fever:1/ack", headers={"X-Requested-With": "ivigwatch"}, data={}
    )
    assert post.status == 401

    good = base64.b64encode(f"{NURSE}:{console.password}".encode()).decode()
    scripted = await anonymous.request.get("/api/alerts", headers={"Authorization": f"Basic {good}"})
    assert scripted.status == 200
    assert set(await scripted.json()) >= {"open", "resolved"}


async def test_a_nurse_logs_in_with_the_form_and_out(
    anonymous: BrowserContext, console: ConsoleServer
) -> None:
    tab = await anonymous.new_page()
    await login_with_form(tab, "rn-nobody", "not-the-password")
    assert re.search(r"/login\?error=1$", tab.url), tab.url
    await screenshot(tab, "login-refused")
    assert (await anonymous.request.get("/api/alerts")).status == 401

    await login_with_form(tab, NURSE, console.password)
    assert re.search(r"^[^?]*//[^/]+/$", tab.url), tab.url
    await expect(tab.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    await screenshot(tab, "logged-in")
    assert (await anonymous.request.get("/api/alerts")).status == 200

    async with tab.expect_navigation():
        await tab.click("#logout")
    assert re.search(r"/login$", tab.url), tab.url
    assert (await anonymous.request.get("/api/alerts")).status == 401


async def test_the_mute_button_toggles(page: Page) -> None:
    mute = page.locator("button#mute")
    await expect(mute).to_be_visible()
    before = await mute.get_attribute("aria-pressed")
    assert before in {"true", "false"}
    flipped = "false" if before == "true" else "true"
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", flipped)
    await screenshot(page, "mute-toggled")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", before)
    await screenshot(page, "mute-back")


async def test_logging_out_in_another_tab_ends_this_tabs_live_alerts(page: Page) -> None:
    """The session's alert stream ends at its logout: the other tab stops showing live alerts and goes
    to the login form (its stream would otherwise go on delivering patients' alerts)."""
    await expect(page.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    other = await page.context.new_page()
    await other.goto("/")
    async with other.expect_navigation():
        await other.click("#logout")
    started = time.monotonic()
    await expect(page).to_have_url(re.compile(r"/login$"), timeout=10_000)
    print(f"logout in another tab -> this tab on the login form: {time.monotonic() - started:.1f} s")
    await expect(page.locator("input#username")).to_be_visible()
    await screenshot(page, "logged-out-in-another-tab")


async def test_the_login_form_says_how_long_to_wait_after_repeated_failures(
    anonymous: BrowserContext,
) -> None:
    """Failed logins slow down the computer they come from: the form says so instead of checking."""
    tab = await anonymous.new_page()
    name = "rn-e2e-typo"
    await tab.goto("/login")
    for _ in range(3):
        response = await anonymous.request.post(
            "/login", form={"username": name, "password": "not-it"}, max_redirects=0
        )
        assert response.status == 303
    for _ in range(3):  # the first delay is 1 s: on a slow machine the click may come after it
        await tab.fill("input#username", name)
        await tab.fill("input#password", "not-it")
        async with tab.expect_navigation():
            await tab.click("button#login")
        if await tab.locator("#login-wait").count():
            break
        assert re.search(r"/login\?error=1$", tab.url), tab.url
    await expect(tab.locator("#login-wait")).to_contain_text("Too many failed logins")
    await expect(tab.locator("input#username")).to_be_visible()
    await screenshot(tab, "login-throttled")
