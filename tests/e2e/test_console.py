"""The nurse console in a real browser on the real pipeline: events in Kafka become alert rows over
SSE, a nurse's click acknowledges (and stops the escalation), an incident is one row with its
members and a page into an acknowledged incident is marked new, the session chart draws, anonymous
requests are refused and the alarm sound can be muted; an analyst sees alerts without action buttons
(their views in the audit log) and a nurse logs in through single sign-on. docs/console-contract.md
fixes the DOM."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect

from models.alerts import Alert
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.sinks.audit.audit_file import audit_path, read_records
from tests.e2e.conftest import (
    ANALYST,
    CHARGE,
    NURSE,
    ConsoleServer,
    EventClock,
    Patient,
    TopicCollector,
    login_with_form,
    screenshot,
)
from tests.integration.conftest import Collector, as_message, produce, wait_for_points

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SHAPES = "path, circle, polyline, polygon, line, rect, ellipse"


def row(tab: Page, alert_id: str) -> Locator:
    return tab.locator(f'table#open-alerts tbody tr.alert-row[data-alert-id="{alert_id}"]')


def group(tab: Page, incident_id: str) -> Locator:
    """An incident's rows: its own (tr.incident-row) and its members' (tr.member-row)."""
    return tab.locator(f'table#open-alerts tbody.incident-group[data-incident-id="{incident_id}"]')


def incident_of(patient: Patient, n: int = 1) -> str:
    return f"{patient.patient_id}:incident:{n}"


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


@dataclass
class IncidentMessages:
    """Hand-built alert messages of one patient's incident, shaped as the rules send them (contract
    v2: each finding carries `incident_id` and `page`; the incident's own state is a message of
    condition `incident` whose alert_id is the incident id). Each is checked against the contract
    model before it is produced to ivig.alerts.v1, where the console reads it."""

    patient: Patient

    @property
    def incident_id(self) -> str:
        return incident_of(self.patient)

    def _message(self, minutes: float, **fields: Any) -> dict[str, Any]:
        ts = self.patient.start + timedelta(minutes=minutes)
        message = {
            "patient_id": self.patient.patient_id,
            "session_id": self.patient.session_id,
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "escalation_level": 0,
            "incident_id": self.incident_id,
            "page": False,
            **fields,
        }
        return Alert.model_validate(message).model_dump(mode="json", exclude_none=True)

    def member(
        self, condition: str, severity: str, minutes: float, status: str = "firing", **fields: Any
    ) -> dict[str, Any]:
        return self._message(
            minutes,
            alert_id=self.patient.alert_id(condition),
            condition=condition,
            severity=severity,
            status=status,
            title=f"{condition.replace('_', ' ')} ({severity})",
            evidence={"summary": f"{condition} seen by the e2e test", "phase": "infusing"},
            action="Call the patient now.",
            rule={"id": f"{condition}.e2e", "version": "1.1.0"},
            **fields,
        )

    def incident(
        self, severity: str, minutes: float, members: list[str], status: str = "firing", **fields: Any
    ) -> dict[str, Any]:
        return self._message(
            minutes,
            alert_id=self.incident_id,
            condition="incident",
            severity=severity,
            status=status,
            title=f"Incident ({severity}): " + ", ".join(members),
            evidence={
                "summary": f"{len(members)} finding(s) of one episode: " + "; ".join(members),
                "phase": "infusing",
            },
            action="Stop the infusion and give epinephrine; call emergency services.",
            rule={"id": "incidents", "version": "1.1.0"},
            **fields,
        )

    def opened(self) -> list[dict[str, Any]]:
        """Hives (warning, paged), then anaphylaxis (critical, paged) with a hypotension it covers
        (critical, shown without paging): one critical incident of three findings."""
        return [
            self.member("infusion_reaction", "warning", 2, page=True),
            self.incident("warning", 2, ["infusion_reaction"]),
            self.member("anaphylaxis", "critical", 3, page=True),
            self.member("hypotension", "critical", 3),
            self.incident("critical", 3, ["infusion_reaction", "anaphylaxis", "hypotension"]),
        ]

    def acknowledged(self, by: str, minutes: float = 4) -> list[dict[str, Any]]:
        """What the rules send for an ack naming the incident: each open member, then the incident."""
        members = [
            self.member(c, s, minutes, "acknowledged", by=by)
            for c, s in (
                ("infusion_reaction", "warning"),
                ("anaphylaxis", "critical"),
                ("hypotension", "critical"),
            )
        ]
        head = self.incident(
            "critical", minutes, ["infusion_reaction", "anaphylaxis", "hypotension"], "acknowledged", by=by
        )
        return [*members, head]


async def send_alerts(console: ConsoleServer, messages: list[dict[str, Any]]) -> None:
    await produce(console.settings, ALERTS_TOPIC, [as_message(m) for m in messages])


async def actions_sent(collector: TopicCollector, patient: Patient) -> list[dict[str, Any]]:
    """Every nurse action the console sent for `patient` (waits for one, then reads what is left)."""
    await collector.wait_for(ACTIONS_TOPIC, lambda m: m["patient_id"] == patient.patient_id, timeout=10)
    await collector.wait_for(ACTIONS_TOPIC, lambda m: False, timeout=2)
    return [m for m in collector.seen[ACTIONS_TOPIC] if m["patient_id"] == patient.patient_id]


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
    """Contract v2: the rules escalate incidents, not alerts; an ack of one alert of an incident
    acknowledges the whole incident, so the acknowledged patient's incident does not escalate."""
    acked, control = event_clock.patient(), event_clock.patient()
    acked_id, control_id = acked.alert_id("anaphylaxis"), control.alert_id("anaphylaxis")
    acked_incident, control_incident = incident_of(acked), incident_of(control)
    collector = Collector(console.settings)
    await collector.start()
    try:
        await send(console, anaphylaxis(acked) + anaphylaxis(control))
        acked_row, control_row = row(page, acked_id), row(page, control_id)
        await expect(acked_row).to_have_attribute("data-status", "firing", timeout=15_000)
        await expect(control_row).to_have_attribute("data-status", "firing", timeout=15_000)
        await expect(
            group(page, acked_incident).locator(f'tr.member-row[data-alert-id="{acked_id}"]')
        ).to_have_count(1, timeout=10_000)
        escalation_cell = await acked_row.locator("td.escalation").inner_text()

        await acked_row.locator("button.ack").click()
        await expect(acked_row).to_have_attribute("data-status", "acknowledged", timeout=10_000)
        await expect(row(page, acked_incident)).to_have_attribute(
            "data-status", "acknowledged", timeout=10_000
        )
        await screenshot(page, "alert-acknowledged")
        ack = await collector.wait_for(
            ALERTS_TOPIC, lambda m: m["alert_id"] == acked_id and m["status"] == "acknowledged"
        )
        assert ack, "no acknowledged message on ivig.alerts.v1"
        assert ack[0]["by"] == NURSE

        # Both incidents opened at minute 2 and went critical at minute 3; a critical incident
        # escalates 5 minutes later: a reading at minute 10 moves the rules worker's clock past
        # that. The unacknowledged incident escalates...
        await send(
            console,
            [acked.event(10, type="vitals", heart_rate=80, systolic_bp=120, diastolic_bp=78, spo2=97)],
        )
        escalated = await collector.wait_for(
            ALERTS_TOPIC,
            lambda m: m["alert_id"] == control_incident and m["status"] == "escalated",
            timeout=20,
        )
        assert escalated, "the control incident did not escalate: the clock did not move past its due time"
        assert escalated[0]["page"] is True
        await expect(row(page, control_incident)).to_have_attribute(
            "data-status", "escalated", timeout=10_000
        )
        await expect(row(page, control_incident).locator("td.escalation")).to_have_text("L1")
        await asyncio.sleep(3 * console.settings.tick_seconds)  # a few more ticks of the rules worker
        await collector.wait_for(ALERTS_TOPIC, lambda m: False, timeout=1)  # read what is left
        # ... the acknowledged one does not.
        messages = [m for m in collector.seen[ALERTS_TOPIC] if m["alert_id"] == acked_id]
        assert [m["status"] for m in messages] == ["firing", "acknowledged"]
        assert messages[-1]["escalation_level"] == 0
        incident_messages = [m for m in collector.seen[ALERTS_TOPIC] if m["alert_id"] == acked_incident]
        assert "escalated" not in [m["status"] for m in incident_messages]
        assert incident_messages[-1]["status"] == "acknowledged"
    finally:
        await collector.stop()
    await expect(acked_row).to_have_attribute("data-status", "acknowledged")
    assert await acked_row.locator("td.escalation").inner_text() == escalation_cell
    await screenshot(page, "alert-acknowledged-no-escalation")
    views = {a["alert_id"]: a for a in (await api_alerts(page))["open"]}
    assert (views[acked_id]["status"], views[acked_id]["escalation_level"]) == ("acknowledged", 0)
    assert NURSE in views[acked_id]["acted_by"]
    assert (views[acked_incident]["status"], views[acked_incident]["escalation_level"]) == ("acknowledged", 0)
    assert (views[control_id]["status"], views[control_id]["escalation_level"]) == ("firing", 0)
    assert (views[control_incident]["status"], views[control_incident]["escalation_level"]) == (
        "escalated",
        1,
    )


async def test_an_incident_with_several_members_is_one_row_and_one_ack_acknowledges_the_group(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    """Hand-built contract messages: one incident of three findings is one incident row with its
    members under it; its Ack sends one action naming the incident, and once the acknowledged
    messages arrive the whole group shows acknowledged."""
    await expect(page.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    patient = event_clock.patient()
    story = IncidentMessages(patient)
    incident_id = story.incident_id
    members = [patient.alert_id(c) for c in ("anaphylaxis", "hypotension", "infusion_reaction")]
    collector = TopicCollector(console.settings, ACTIONS_TOPIC)
    await collector.start()
    try:
        await send_alerts(console, story.opened())
        rows, head = group(page, incident_id), row(page, incident_id)
        await expect(head).to_have_attribute("data-status", "firing", timeout=15_000)
        await expect(rows.locator("tr.member-row")).to_have_count(3, timeout=10_000)
        await expect(rows.locator("tr.alert-row")).to_have_count(4)
        await expect(head).to_have_class(re.compile(r"\bincident-row\b"))
        await expect(head).to_have_attribute("data-severity", "critical")
        await expect(head.locator("td.condition")).to_contain_text("incident")
        await expect(head.locator("td.condition")).to_contain_text("3 alerts")
        await expect(head.locator("td.condition")).to_contain_text("anaphylaxis")  # the title
        await expect(head.locator("td.escalation")).not_to_have_class(re.compile(r"\bescalated\b"))
        await expect(head.locator("td.age")).to_have_count(1)
        # members under the incident, most severe first, each as it is
        assert [
            await r.get_attribute("data-alert-id") for r in await rows.locator("tr.member-row").all()
        ] == members
        for alert_id in members:
            await expect(row(page, alert_id)).to_have_count(1)  # never also a row of its own
            await expect(row(page, alert_id)).to_have_attribute("data-incident-id", incident_id)
            await expect(row(page, alert_id).locator("button.ack")).to_be_visible()
        await expect(row(page, members[0])).to_have_attribute("data-severity", "critical")
        await expect(row(page, members[2])).to_have_attribute("data-severity", "warning")
        await expect(row(page, members[0]).locator(".paged-mark")).to_be_visible()
        await expect(row(page, members[1]).locator(".not-paged")).to_be_visible()  # covered: not paged
        await expect(page.locator("#new-pages")).to_be_hidden()
        await screenshot(page, "incident-one-row")

        await head.locator("button.ack").click()
        await expect(head.locator(".sent")).to_contain_text("ack sent")
        sent = await actions_sent(collector, patient)
        assert [(a["type"], a["alert_id"], a["by"]) for a in sent] == [("ack", incident_id, NURSE)]
        # the console changes nothing itself: still firing until the rules' messages come back
        await expect(head).to_have_attribute("data-status", "firing")

        await send_alerts(console, story.acknowledged(by=NURSE))
        for alert_id in [incident_id, *members]:
            await expect(row(page, alert_id)).to_have_attribute("data-status", "acknowledged", timeout=10_000)
        await expect(head.locator(".acked-by")).to_contain_text(NURSE)
        await expect(head.locator("button.ack")).to_be_disabled()
        await expect(head.locator(".sent")).to_have_count(0)
        await screenshot(page, "incident-acknowledged")
    finally:
        await collector.stop()
    payload = await api_alerts(page)
    (folded,) = [g for g in payload["groups"] if g["key"] == incident_id]
    assert (folded["members"], folded["needs_look"], folded["new"]) == (members, False, False)


async def test_a_new_member_after_the_acknowledgement_is_marked_so_it_cannot_be_missed(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    """A finding the acknowledgement does not cover pages into the acknowledged incident (page
    true) and the rules set the incident back to firing: the console marks the member and the
    incident new and puts up the banner until someone acknowledges the incident again."""
    await expect(page.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    patient = event_clock.patient()
    story = IncidentMessages(patient)
    incident_id = story.incident_id
    new_id = patient.alert_id("thrombosis")
    await send_alerts(console, story.opened() + story.acknowledged(by="rn-night"))
    head, banner = row(page, incident_id), page.locator("#new-pages")
    await expect(head).to_have_attribute("data-status", "acknowledged", timeout=15_000)
    await expect(head).to_have_attribute("data-new", "false")

    all_members = ["infusion_reaction", "anaphylaxis", "hypotension", "thrombosis"]
    await send_alerts(
        console,
        [
            story.member("thrombosis", "critical", 6, page=True),
            story.incident("critical", 6, all_members),  # back to firing
        ],
    )
    new = row(page, new_id)
    await expect(new).to_be_visible(timeout=15_000)
    await expect(group(page, incident_id).locator(f'tr.member-row[data-alert-id="{new_id}"]')).to_have_count(
        1
    )
    await expect(new).to_have_attribute("data-new", "true")
    await expect(new.locator(".new-mark")).to_be_visible()
    await expect(new.locator(".paged-mark")).to_be_visible()
    await expect(head).to_have_attribute("data-status", "firing", timeout=10_000)
    await expect(head).to_have_attribute("data-new", "true")
    await expect(head.locator(".new-mark")).to_be_visible()
    await expect(head.locator(".acked-by")).to_contain_text("rn-night")
    await expect(head.locator("button.ack")).to_be_enabled()
    first_member = group(page, incident_id).locator("tr.member-row").first
    await expect(first_member).to_have_attribute("data-alert-id", new_id)  # the new one on top
    await expect(banner).to_be_visible()
    await expect(banner.locator(f'li[data-incident-id="{incident_id}"]')).to_contain_text(patient.patient_id)
    await expect(banner).to_contain_text("thrombosis")
    await expect(page).to_have_title(re.compile(r"^NEW · "))
    for alert_id in (patient.alert_id("anaphylaxis"), patient.alert_id("hypotension")):
        await expect(row(page, alert_id)).to_have_attribute("data-new", "false")  # what was seen before
    await screenshot(page, "incident-new-member-after-ack")

    # someone acknowledges the incident again: nothing is new any more
    await send_alerts(
        console,
        [
            story.member("thrombosis", "critical", 7, "acknowledged", by=NURSE),
            story.incident("critical", 7, all_members, "acknowledged", by=NURSE),
        ],
    )
    await expect(head).to_have_attribute("data-status", "acknowledged", timeout=10_000)
    await expect(head).to_have_attribute("data-new", "false")
    await expect(new).to_have_attribute("data-new", "false")
    await expect(banner.locator(f'li[data-incident-id="{incident_id}"]')).to_have_count(0)


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


async def test_an_owner_hands_over_and_resolving_an_incident_asks_its_outcome(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    """Contract v2: an acknowledged incident shows its owner and a Hand over button (asks whom and a
    note); Resolve on an incident asks the outcome (again until it is one) and the action taken."""
    await expect(page.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    patient = event_clock.patient()
    story = IncidentMessages(patient)
    incident_id = story.incident_id
    *members, head_message = story.acknowledged(by=NURSE)
    answers = ["rn-day", "night shift ends", "maybe", "artefact", "cuff on a moving arm"]
    # the nurse's answers to the page's prompts, in order (the shared page accepts every dialog with one text)
    await page.evaluate(
        "answers => { window.ivigAnswers = answers; window.prompt = () => answers.shift(); }", answers
    )
    collector = TopicCollector(console.settings, ACTIONS_TOPIC)
    await collector.start()
    try:
        await send_alerts(console, [*story.opened(), *members, {**head_message, "owner": NURSE}])
        head = row(page, incident_id)
        await expect(head).to_have_attribute("data-status", "acknowledged", timeout=15_000)
        await expect(head.locator(".owner")).to_have_text(f"owner: {NURSE}")
        await expect(row(page, members[0]["alert_id"]).locator("button.handover")).to_have_count(0)
        await head.locator("button.handover").click()
        await expect(head.locator(".sent")).to_contain_text("handover sent")
        await head.locator("button.resolve").click()
        await expect(head.locator(".sent")).to_contain_text("resolve sent")
        sent = await actions_sent(collector, patient)
    finally:
        await collector.stop()
    assert [
        (a["type"], a.get("to"), a.get("note"), a.get("outcome"), a.get("action_taken")) for a in sent
    ] == [
        ("handover", "rn-day", "night shift ends", None, None),
        ("resolve", None, None, "artefact", "cuff on a moving arm"),
    ]
    assert await page.evaluate("window.ivigAnswers.length") == 0, "a prompt was not asked"


async def test_the_board_lists_a_running_infusion_with_its_vitals_freshness_and_follows_a_new_reading(
    page: Page, console: ConsoleServer, event_clock: EventClock
) -> None:
    """The caseload board (/board): a running infusion's row with its phase, rate, minutes since the
    last vitals and the next set due (the rules' care schedule), redrawn live when a reading
    arrives. The console's clock in these stacks is the latest event time, so the minutes are exact."""
    patient = event_clock.patient()
    await send(
        console,
        [
            patient.event(0, type="vitals", heart_rate=74, systolic_bp=124, diastolic_bp=80, spo2=98),
            patient.event(1, type="infusion", action="start", rate_ml_per_h=40, product="Privigen"),
            patient.event(20, type="infusion", action="rate_change", rate_ml_per_h=80),
        ],
    )
    async with page.expect_navigation():
        await page.click("nav a#nav-board")
    await expect(page.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    board_row = page.locator(f'table#board tbody tr.board-row[data-patient-id="{patient.patient_id}"]')
    await expect(board_row).to_be_visible(timeout=15_000)
    await expect(board_row.locator("td.phase")).to_contain_text("infusing")
    await expect(board_row.locator("td.rate")).to_contain_text("80 mL/h")
    await expect(board_row.locator("td.rate")).to_have_class(re.compile(r"\brecent-step\b"))
    await expect(board_row.locator("td.last-vitals")).to_contain_text("20 min ago")
    # the set 15 min after the start (minute 16) is due, the rate step's set (minute 20) with it
    due = await page.evaluate("iso => Ivig.clock(iso)", (patient.start + timedelta(minutes=16)).isoformat())
    next_vitals = board_row.locator("td.next-vitals")
    await expect(next_vitals).to_contain_text("due now (4 min)")
    await expect(next_vitals).to_contain_text(f"{due} · after-start")
    await screenshot(page, "board-due")

    started = time.monotonic()
    await send(console, [patient.event(21, type="vitals", heart_rate=80, systolic_bp=120, diastolic_bp=78)])
    await expect(board_row.locator("td.last-vitals")).to_contain_text("just now", timeout=15_000)
    latency = time.monotonic() - started
    steady = await page.evaluate(
        "iso => Ivig.clock(iso)", (patient.start + timedelta(minutes=80)).isoformat()
    )
    await expect(next_vitals).to_contain_text("in 59 min")  # hourly after the rate increase
    await expect(next_vitals).to_contain_text(f"{steady} · steady")
    await screenshot(page, "board-live")
    assert latency < 10, f"the board took {latency:.1f} s to show the reading"


async def test_an_analyst_sees_the_alerts_but_cannot_act(
    anonymous: BrowserContext, console: ConsoleServer, event_clock: EventClock
) -> None:
    """No action button is drawn for an analyst, the server refuses a scripted action, and the view of
    the patient's alert is in the audit log."""
    patient = event_clock.patient()
    alert_id = patient.alert_id("anaphylaxis")
    tab = await anonymous.new_page()
    await login_with_form(tab, ANALYST, console.password)
    await expect(tab.locator("#role")).to_have_text("analyst")
    await expect(tab.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    await send(console, anaphylaxis(patient))
    await expect(row(tab, alert_id)).to_be_visible(timeout=15_000)
    await expect(tab.locator("table#open-alerts button[data-kind]")).to_have_count(0)
    await screenshot(tab, "analyst-no-action-buttons")
    status = await tab.evaluate(
        """(id) => fetch("/api/alerts/" + encodeURIComponent(id) + "/ack", {method: "POST",
             headers: {"X-Requested-With": "ivigwatch", "Content-Type": "application/json"}, body: "{}"})
           .then((r) => r.status)""",
        alert_id,
    )
    assert status == 403
    views = list(
        read_records(audit_path(console.settings.state_dir), user=ANALYST, patient=patient.patient_id)
    )
    assert views and {(v.role, v.what) for v in views} == {("analyst", "alert stream")}


async def test_a_nurse_logs_in_through_single_sign_on(
    anonymous: BrowserContext, console: ConsoleServer, oidc_issuer: str
) -> None:
    """The login form's single sign-on link goes to the identity provider (a real one, run by the tests)
    and back: the nurse is logged in with the role their groups map to."""
    known = await anonymous.request.put(
        f"{oidc_issuer}/users/u-sso-nurse", data={"preferred_username": "rn.sso", "groups": ["ivig-nurses"]}
    )
    assert known.status == 204, await known.text()
    tab = await anonymous.new_page()
    await tab.goto("/login")
    async with tab.expect_navigation(url=re.compile(r"/oauth2/authorize")):
        await tab.click("a#sso-login")
    await screenshot(tab, "sso-identity-provider")
    await tab.fill("input[name=sub]", "u-sso-nurse")
    await tab.get_by_role("button", name="Authorize").click()
    await expect(tab).to_have_url(re.compile(r"^[^?]*//[^/]+/$"), timeout=15_000)
    await expect(tab.locator("span.user")).to_have_text("rn.sso")
    await expect(tab.locator("#role")).to_have_text("nurse")
    await expect(tab.locator("span#connection")).to_have_text(re.compile("live"), timeout=15_000)
    await screenshot(tab, "sso-logged-in")
    assert (await anonymous.request.get("/api/alerts")).status == 200
    async with tab.expect_navigation():
        await tab.click("#logout")
    assert (await anonymous.request.get("/api/alerts")).status == 401


async def test_a_charge_nurse_sets_a_limit_and_a_snooze_and_the_next_readings_honour_them(
    anonymous: BrowserContext, console: ConsoleServer, event_clock: EventClock
) -> None:
    """Issue 16: a patient's own limit (a usual SpO2 of 91) and a snooze (tachycardia), each with a
    reason and an expiry; a snooze of a critical row is refused before it is sent."""
    patient = event_clock.patient()
    page = await anonymous.new_page()
    await login_with_form(page, CHARGE, console.password)
    await page.goto(f"/patients/{patient.patient_id}/limits")
    await expect(page.locator("#none-in-force")).to_be_visible(timeout=10_000)
    await page.select_option("#limit-target", label="SpO2 low (pages below)")
    await page.fill("#limit-value", "91")
    await page.fill("#limit-hours", "8")
    await page.click("#limit-set")  # no reason: the form is not sent
    await expect(page.locator("#limit-reason:invalid")).to_have_count(1)
    await page.fill("#limit-reason", "usual SpO2 91 (COPD)")
    await page.click("#limit-set")
    in_force = page.locator("#in-force-list li")
    await expect(in_force).to_contain_text(["patient limit SpO2 < 91 set by cn-e2e"], timeout=15_000)

    await page.select_option("#snooze-target", label="  hypotension.absolute (critical)")
    await page.fill("#snooze-hours", "2")
    await page.fill("#snooze-reason", "known low pressure")
    await page.click("#snooze-set")
    await expect(page.locator("#limits-error")).to_contain_text("critical rows are never snoozed")
    await page.select_option("#snooze-target", label="tachycardia (its warning and urgent rows)")
    await page.click("#snooze-set")
    await expect(in_force).to_have_count(2, timeout=15_000)
    await expect(in_force.nth(1)).to_contain_text("tachycardia snoozed by cn-e2e")
    await screenshot(page, "patient-limits")

    collector = Collector(console.settings)
    await collector.start()
    try:  # readings after the settings (their event times are minutes after the patient's start)
        await send(
            console,
            [
                patient.event(5, type="vitals", heart_rate=72, systolic_bp=122, temperature_c=36.8, spo2=97),
                patient.event(6, type="infusion", action="start", rate_ml_per_h=40),
                patient.event(7, type="vitals", spo2=91, heart_rate=115),
                patient.event(8, type="vitals", spo2=91, heart_rate=115),
                patient.event(9, type="vitals", spo2=89),
                patient.event(10, type="vitals", spo2=89),
            ],
        )
        paged = await collector.wait_for(
            ALERTS_TOPIC,
            lambda m: m["patient_id"] == patient.patient_id and m["condition"] == "hypoxemia" and m["page"],
        )
    finally:
        await collector.stop()
    assert paged and "patient limit SpO2 < 91" in paged[0]["evidence"]["summary"]
    seen = [m for m in collector.seen[ALERTS_TOPIC] if m["patient_id"] == patient.patient_id]
    assert {m["condition"] for m in seen} <= {"hypoxemia", "incident"}  # no tachycardia: snoozed
    assert next(m for m in seen if m["condition"] == "hypoxemia")["evidence"]["values"] == {"spo2": 89}


async def test_every_patient_these_tests_showed_is_in_the_audit_log(
    page: Page, console: ConsoleServer
) -> None:
    """Run last: each patient of the module's alert list was seen on a live page (the audit has their
    "alert stream" view), and the session chart's data view is there too; no record holds a value."""
    path = audit_path(console.settings.state_dir)
    before = list(read_records(path))
    shown = {a["patient_id"] for key in ("open", "resolved") for a in (await api_alerts(page))[key]} - {"-"}
    streamed = {r.patient for r in before if r.what == "alert stream"}
    assert shown and shown <= streamed, f"shown but not audited: {shown - streamed}"
    assert {r.user for r in before if r.what == "session data"} == {NURSE}
    assert {r.role for r in before} == {"nurse", "analyst", "charge_nurse"}
    # no patient value in any field but the record's own time (whose digits may spell 36.7 by chance)
    logged = " ".join(
        str(value)
        for line in path.read_text().splitlines()
        for key, value in json.loads(line).items()
        if key != "ts"
    )
    assert "throat" not in logged and "36.7" not in logged
