"""The console's HTTP surface with aiohttp's test client: refusal of anonymous requests, login, the
CSRF header, security headers, nurse actions and the SSE stream. Kafka and InfluxDB are replaced by
fakes here (the real ones are in tests/integration/test_console_api.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from agents.rules.loader import load_rules
from models.alerts import Alert
from models.events import NurseAction
from streams.apps.console.action_sender import ActionNotSent
from streams.apps.console.auth import COOKIE, hash_password
from streams.apps.console.feed import Hub
from streams.apps.console.web_app import create_console_app
from streams.apps.sessions import PumpRow, SessionNotFound, SessionRecord, SymptomRow, VitalsRow
from streams.infra.settings import Settings

NURSE, PASSWORD = "rn-ana", "pw-ana-123"
HASH = hash_password(PASSWORD)
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CSRF = {"X-Requested-With": "ivigwatch"}


class FakeActions:
    def __init__(self) -> None:
        self.sent: list[NurseAction] = []
        self.fail = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, action: NurseAction) -> None:
        if self.fail:
            raise ActionNotSent("the action was not sent (KafkaTimeoutError); try again")
        self.sent.append(action)


async def fake_session(session_id: str) -> SessionRecord:
    if session_id != "pt-a-s1":
        raise SessionNotFound(session_id)
    at = [T0 + timedelta(minutes=m) for m in range(0, 60, 10)]
    return SessionRecord(
        session_id="pt-a-s1",
        patient_id="pt-a",
        vitals=[
            VitalsRow(t, {"temperature_c": 36.7 + i * 0.3, "heart_rate": 72.0 + i}) for i, t in enumerate(at)
        ],
        pump=[
            PumpRow(at[1], "start", 40.0, "Privigen"),
            PumpRow(at[3], "rate_change", 80.0),
            PumpRow(at[5], "stop"),
        ],
        symptoms=[SymptomRow(at[4], "chills", "moderate")],
        profile={"risk_factors": "first_infusion,migraine_history", "epinephrine_available": True, "time": 1},
    )


def firing(
    patient: str = "pt-a", condition: str = "anaphylaxis", severity: str = "critical", **update: Any
) -> Alert:
    return Alert.model_validate(
        {
            "alert_id": f"{patient}-s1:{condition}:1",
            "patient_id": patient,
            "session_id": f"{patient}-s1",
            "status": "firing",
            "severity": severity,
            "condition": condition,
            "ts": T0,
            "title": "Anaphylaxis",
            "evidence": {"summary": "hives and throat tightness", "phase": "infusion"},
            "action": "stop the infusion, give epinephrine, call emergency services",
            "rule": {"id": "anaphylaxis", "version": "1.1.0"},
            **update,
        }
    )


class Setup:
    def __init__(self, client: TestClient[Any, Any], hub: Hub, actions: FakeActions) -> None:
        self.client, self.hub, self.actions = client, hub, actions

    async def login(self) -> None:
        response = await self.client.post(
            "/login", data={"username": NURSE, "password": PASSWORD}, allow_redirects=False
        )
        assert response.status == 303 and response.headers["Location"] == "/"


def console_settings(state_dir: Path, **overrides: Any) -> Settings:
    """The test nurse's account, a fixed signing key, a state dir of the test's own."""
    values: dict[str, Any] = {
        "console_users": f"{NURSE}:{HASH}",
        "console_secret": "s" * 32,
        "state_dir": state_dir,
    }
    return Settings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Setup]:
    hub, actions = Hub(), FakeActions()
    app = create_console_app(settings, feed=hub, actions=actions, sessions=fake_session, rules=load_rules())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Setup(client, hub, actions)
    finally:
        await client.close()


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with serving(console_settings(tmp_path)) as ready:
        yield ready


def assert_security_headers(response: ClientResponse) -> None:
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    # not no-referrer: with it, browsers send `Origin: null` on the login form's post, which is refused
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/", "/sessions/pt-a-s1", "/sessions/nope", "/board"])
async def test_an_anonymous_page_request_goes_to_the_login_form(setup: Setup, path: str) -> None:
    response = await setup.client.get(path, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert_security_headers(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/alerts"),
        ("GET", "/api/stream"),
        ("GET", "/api/board"),
        ("GET", "/api/board/stream"),
        ("GET", "/api/sessions/pt-a-s1"),
        ("POST", "/api/alerts/pt-a-s1:anaphylaxis:1/ack"),
        ("POST", "/api/alerts/pt-a-s1:anaphylaxis:1/note"),
    ],
)
async def test_an_anonymous_api_request_gets_401_json(setup: Setup, method: str, path: str) -> None:
    setup.hub.on_alert(firing())
    response = await setup.client.request(method, path, headers=CSRF, json={"note": "x"})
    assert response.status == 401
    assert (await response.json())["error"] == "login required"
    assert_security_headers(response)
    assert setup.actions.sent == []


async def test_scripts_and_a_forged_cookie_are_refused_too(setup: Setup) -> None:
    assert (await setup.client.get("/static/console.js")).status == 401
    setup.client.session.cookie_jar.update_cookies({COOKIE: f"{NURSE}|9999999999|x.forged"})
    assert (await setup.client.get("/api/alerts")).status == 401
    login = await setup.client.get("/login")
    assert login.status == 200
    assert_security_headers(login)
    page = await login.text()
    for part in ('id="username"', 'id="password"', 'id="login"', 'type="submit"'):
        assert part in page
    assert "<script>" not in page and "style=" not in page
    assert (await setup.client.get("/static/console.css")).status == 200  # the login form's styles


async def test_login_sets_a_strict_httponly_signed_cookie_and_opens_every_page(setup: Setup) -> None:
    response = await setup.client.post(
        "/login", data={"username": NURSE, "password": PASSWORD}, allow_redirects=False
    )
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert PASSWORD not in cookie.value and HASH not in cookie.value
    for path in ("/", "/sessions/pt-a-s1", "/static/console.js", "/api/alerts"):
        page = await setup.client.get(path)
        assert page.status == 200, path
        assert_security_headers(page)
    text = await (await setup.client.get("/")).text()
    for part in ('id="open-alerts"', 'id="resolved-alerts"', 'id="mute"', 'id="connection"', NURSE):
        assert part in text
    session = await (await setup.client.get("/sessions/pt-a-s1")).text()
    for part in ('id="vitals-chart"', 'id="baseline"', 'id="risk-factors"', 'data-session-id="pt-a-s1"'):
        assert part in session


async def test_a_wrong_password_goes_back_to_the_form_and_logout_ends_the_session(setup: Setup) -> None:
    wrong = await setup.client.post(
        "/login", data={"username": NURSE, "password": "nope"}, allow_redirects=False
    )
    assert (wrong.status, wrong.headers["Location"]) == (303, "/login?error=1")
    assert "Wrong name or password" in await (await setup.client.get("/login?error=1")).text()
    await setup.login()
    token = setup.client.session.cookie_jar.filter_cookies(setup.client.make_url("/"))[COOKIE].value
    out = await setup.client.post("/logout", allow_redirects=False)
    assert (out.status, out.headers["Location"]) == (303, "/login")
    setup.client.session.cookie_jar.update_cookies({COOKIE: token})  # a copy of the old cookie
    assert (await setup.client.get("/api/alerts")).status == 401


async def test_a_cross_origin_form_post_is_refused(setup: Setup) -> None:
    evil = {"Origin": "https://evil.example"}
    response = await setup.client.post(
        "/login", data={"username": NURSE, "password": PASSWORD}, headers=evil, allow_redirects=False
    )
    assert response.status == 403
    await setup.login()
    assert (await setup.client.post("/logout", headers=evil, allow_redirects=False)).status == 403


async def test_a_post_without_the_csrf_header_is_refused(setup: Setup) -> None:
    setup.hub.on_alert(firing())
    await setup.login()
    response = await setup.client.post("/api/alerts/pt-a-s1:anaphylaxis:1/ack", json={})
    assert response.status == 403
    assert "X-Requested-With" in (await response.json())["error"]
    wrong = await setup.client.post(
        "/api/alerts/pt-a-s1:anaphylaxis:1/ack", json={}, headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert wrong.status == 403
    assert setup.actions.sent == []


async def test_ack_produces_the_nurses_action_and_leaves_the_alert_as_it_is(setup: Setup) -> None:
    setup.hub.on_alert(firing())
    await setup.login()
    before = datetime.now(UTC)
    response = await setup.client.post("/api/alerts/pt-a-s1:anaphylaxis:1/ack", headers=CSRF, json={})
    assert response.status == 202
    body = await response.json()
    (sent,) = setup.actions.sent
    assert (sent.type, sent.alert_id, sent.patient_id, sent.by) == (
        "ack",
        "pt-a-s1:anaphylaxis:1",
        "pt-a",
        NURSE,
    )
    assert before <= sent.ts <= datetime.now(UTC)
    assert body["action"] == sent.model_dump(mode="json", exclude_none=True)
    assert (await (await setup.client.get("/api/alerts")).json())["open"][0]["status"] == "firing"


def incident_message(status: str = "firing", **update: Any) -> Alert:
    """pt-a's incident 1 as the rules send its state (contract v2)."""
    return firing(
        condition="incident",
        alert_id="pt-a:incident:1",
        incident_id="pt-a:incident:1",
        title="Incident (critical): anaphylaxis",
        rule={"id": "incidents", "version": "1.1.0"},
        status=status,
        **update,
    )


async def test_ack_and_resolve_may_name_an_incident_and_send_one_action_naming_it(setup: Setup) -> None:
    setup.hub.on_alert(firing(incident_id="pt-a:incident:1", page=True))
    setup.hub.on_alert(firing(condition="hypotension", incident_id="pt-a:incident:1"))
    setup.hub.on_alert(incident_message())
    await setup.login()
    response = await setup.client.post("/api/alerts/pt-a%3Aincident%3A1/ack", headers=CSRF, json={})
    assert response.status == 202, await response.text()
    closing = {"note": "in hospital", "outcome": "needed_action", "action_taken": "epinephrine"}
    response = await setup.client.post("/api/alerts/pt-a:incident:1/resolve", headers=CSRF, json=closing)
    assert response.status == 202
    assert [(a.type, a.alert_id, a.patient_id, a.by) for a in setup.actions.sent] == [
        ("ack", "pt-a:incident:1", "pt-a", NURSE),
        ("resolve", "pt-a:incident:1", "pt-a", NURSE),
    ]
    assert (await setup.client.post("/api/alerts/pt-a:incident:9/ack", headers=CSRF)).status == 404
    payload = await (await setup.client.get("/api/alerts")).json()
    assert payload["groups"] == [
        {
            "key": "pt-a:incident:1",
            "incident_id": "pt-a:incident:1",
            "head": "pt-a:incident:1",
            "members": ["pt-a-s1:anaphylaxis:1", "pt-a-s1:hypotension:1"],
            "needs_look": True,
            "new": False,
        }
    ]


async def test_resolving_an_incident_needs_its_outcome_and_a_handover_its_nurse(setup: Setup) -> None:
    """Contract v2: the console asks for the outcome and the action taken of an incident, and hands
    over only an acknowledged incident, to a named nurse, with a note."""
    setup.hub.on_alert(firing(incident_id="pt-a:incident:1", page=True))
    setup.hub.on_alert(incident_message())
    await setup.login()
    url = "/api/alerts/pt-a:incident:1"
    vague = await setup.client.post(f"{url}/resolve", headers=CSRF, json={"note": "done"})
    assert vague.status == 400 and "outcome" in (await vague.json())["error"]
    wrong = {"outcome": "fine", "action_taken": "called"}
    assert (await setup.client.post(f"{url}/resolve", headers=CSRF, json=wrong)).status == 400
    early = await setup.client.post(f"{url}/handover", headers=CSRF, json={"to": "rn-9", "note": "yours"})
    assert early.status == 400 and "acknowledge it first" in (await early.json())["error"]
    setup.hub.on_alert(incident_message("acknowledged", by=NURSE, owner=NURSE))
    nobody = await setup.client.post(f"{url}/handover", headers=CSRF, json={"note": "yours"})
    assert nobody.status == 400 and "nurse taking over" in (await nobody.json())["error"]
    handed = await setup.client.post(f"{url}/handover", headers=CSRF, json={"to": "rn-9", "note": "yours"})
    assert handed.status == 202, await handed.text()
    member = await setup.client.post(  # a member alone resolves without an outcome (contract v1)
        "/api/alerts/pt-a-s1:anaphylaxis:1/resolve", headers=CSRF, json={}
    )
    assert member.status == 202
    assert [(a.type, a.to, a.note, a.outcome) for a in setup.actions.sent] == [
        ("handover", "rn-9", "yours", None),
        ("resolve", None, None, None),
    ]
    view = (await (await setup.client.get("/api/alerts")).json())["open"]
    assert {v["alert_id"]: v["owner"] for v in view}["pt-a:incident:1"] == NURSE


async def test_only_the_owner_or_a_charge_nurse_hands_an_incident_over(tmp_path: Path) -> None:
    """Issue 16: an owner can hand an incident over; another nurse cannot take it from them, a
    charge nurse can reassign it."""
    url = "/api/alerts/pt-a:incident:1/handover"
    body = {"to": "rn-9", "note": "yours"}
    for role, status in (("nurse", 403), ("charge_nurse", 202)):
        settings = console_settings(tmp_path / role, console_users=f"{NURSE}:{HASH}:{role}")
        async with serving(settings) as ready:
            ready.hub.on_alert(firing(incident_id="pt-a:incident:1", page=True))
            ready.hub.on_alert(incident_message("acknowledged", by="rn-owner", owner="rn-owner"))
            await ready.login()
            response = await ready.client.post(url, headers=CSRF, json=body)
            assert response.status == status, (role, await response.text())
            assert len(ready.actions.sent) == (status == 202)
            if status == 403:
                assert "only its owner (rn-owner)" in (await response.json())["error"]


async def test_a_members_message_also_streams_its_incidents_view(setup: Setup) -> None:
    setup.hub.on_alert(firing(incident_id="pt-a:incident:1", page=True))
    setup.hub.on_alert(incident_message())
    await setup.login()
    response = await setup.client.get("/api/stream")
    event, snapshot = await read_event(response)
    assert event == "snapshot" and [g["key"] for g in snapshot["groups"]] == ["pt-a:incident:1"]
    setup.hub.on_alert(firing(incident_id="pt-a:incident:1", status="acknowledged", by=NURSE))
    setup.hub.on_alert(incident_message("acknowledged", by=NURSE))
    setup.hub.on_alert(
        firing(condition="hypoxemia", severity="urgent", incident_id="pt-a:incident:1", page=True)
    )
    setup.hub.on_alert(incident_message())
    seen = [(await read_event(response))[1] for _ in range(6)]
    assert [(v["alert_id"], v["status"]) for v in seen] == [
        ("pt-a-s1:anaphylaxis:1", "acknowledged"),
        ("pt-a:incident:1", "firing"),  # the member's message sends the incident's view again
        ("pt-a:incident:1", "acknowledged"),
        ("pt-a-s1:hypoxemia:1", "firing"),
        ("pt-a:incident:1", "acknowledged"),
        ("pt-a:incident:1", "firing"),
    ]
    assert seen[3]["new_after_ack"] is True and seen[3]["paged_at"] == "2026-11-24T10:00:00Z"
    assert (seen[4]["new"], seen[4]["members"][0]) == (True, "pt-a-s1:hypoxemia:1")
    assert (seen[5]["new"], seen[5]["new_after_ack"], seen[5]["needs_look"]) == (True, True, True)
    response.close()


async def test_note_and_resolve_carry_the_note_and_bad_requests_say_why(setup: Setup) -> None:
    setup.hub.on_alert(firing())
    await setup.login()
    url = "/api/alerts/pt-a-s1:anaphylaxis:1"
    assert (await setup.client.post(f"{url}/note", headers=CSRF, json={"note": "  "})).status == 400
    assert (await setup.client.post(f"{url}/note", headers=CSRF)).status == 400
    assert (await setup.client.post(f"{url}/note", headers=CSRF, data="not json")).status == 400
    assert (await setup.client.post(f"{url}/note", headers=CSRF, json={"note": 5})).status == 400
    assert (await setup.client.post(f"{url}/note", headers=CSRF, json={"note": "x" * 2001})).status == 400
    assert (await setup.client.post(f"{url}/snooze", headers=CSRF, json={})).status == 404
    assert (await setup.client.post("/api/alerts/pt-zz-s1:fever:1/ack", headers=CSRF)).status == 404
    assert (await setup.client.post(f"{url}/note", headers=CSRF, json={"note": "called, 911"})).status == 202
    assert (
        await setup.client.post(f"{url}/resolve", headers=CSRF, json={"note": "in hospital"})
    ).status == 202
    assert [(a.type, a.note) for a in setup.actions.sent] == [
        ("note", "called, 911"),
        ("resolve", "in hospital"),
    ]
    setup.actions.fail = True
    failed = await setup.client.post(f"{url}/ack", headers=CSRF)
    assert failed.status == 503 and "try again" in (await failed.json())["error"]


async def test_an_action_on_a_resolved_alert_is_a_conflict(setup: Setup) -> None:
    setup.hub.on_alert(firing())
    setup.hub.on_alert(firing(status="resolved", by="rn-bo"))
    await setup.login()
    response = await setup.client.post("/api/alerts/pt-a-s1:anaphylaxis:1/ack", headers=CSRF)
    assert response.status == 409


async def test_basic_auth_works_for_the_api_only(setup: Setup) -> None:
    good = {"Authorization": "Basic " + base64.b64encode(f"{NURSE}:{PASSWORD}".encode()).decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(f"{NURSE}:nope".encode()).decode()}
    assert (await setup.client.get("/api/alerts", headers=good)).status == 200
    assert (await setup.client.get("/api/alerts", headers=bad)).status == 401
    page = await setup.client.get("/", headers=good, allow_redirects=False)
    assert page.status == 303
    setup.hub.on_alert(firing())
    ack = await setup.client.post("/api/alerts/pt-a-s1:anaphylaxis:1/ack", headers={**good, **CSRF})
    assert ack.status == 202 and setup.actions.sent[0].by == NURSE


async def read_event(response: ClientResponse) -> tuple[str, Any]:
    event, data = "", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and event:
            return event, json.loads(data)


async def test_the_stream_sends_a_snapshot_then_each_alert_message(setup: Setup) -> None:
    setup.hub.on_alert(firing("pt-b", "fever", "urgent"))
    await setup.login()
    response = await setup.client.get("/api/stream")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert_security_headers(response)
    event, snapshot = await read_event(response)
    assert event == "snapshot" and [a["alert_id"] for a in snapshot["open"]] == ["pt-b-s1:fever:1"]
    setup.hub.on_alert(firing())
    event, view = await read_event(response)
    assert (event, view["alert_id"], view["status"]) == ("alert", "pt-a-s1:anaphylaxis:1", "firing")
    assert view["first_fired"] == "2026-11-24T10:00:00Z" and view["acted_by"] == []
    setup.hub.on_alert(firing(status="acknowledged", by=NURSE))
    event, view = await read_event(response)
    assert (view["status"], view["acted_by"]) == ("acknowledged", [NURSE])
    opened = (await (await setup.client.get("/api/alerts")).json())["open"]
    assert [a["alert_id"] for a in opened] == ["pt-a-s1:anaphylaxis:1", "pt-b-s1:fever:1"]
    response.close()


async def test_the_session_api_gives_the_chart_its_data(setup: Setup) -> None:
    await setup.login()
    data = await (await setup.client.get("/api/sessions/pt-a-s1")).json()
    assert data["session_id"] == "pt-a-s1" and data["patient_id"] == "pt-a"
    assert len(data["vitals"]) == 6 and data["vitals"][0]["ts"] == "2026-11-24T10:00:00Z"
    assert [s["rate"] for s in data["rate_segments"]] == [40.0, 80.0]
    assert data["symptoms"][0]["symptom"] == "chills"
    assert data["baseline"]["temperature_c"] == pytest.approx(36.7)
    assert data["profile"] == {
        "risk_factors": ["first_infusion", "migraine_history"],
        "epinephrine_available": True,
    }
    assert any(t["severity"] for t in data["thresholds"]["temperature_c"])
    assert (await setup.client.get("/api/sessions/pt-zz-s1")).status == 404
    assert (await setup.client.get("/api/sessions/bad%20id")).status == 400


async def test_health_is_anonymous_and_holds_no_patient_data(setup: Setup) -> None:
    setup.hub.on_alert(firing())
    response = await setup.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "feed": "live", "board": "live"}
