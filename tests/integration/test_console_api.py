"""The nurse console on the real stack: started in-process against the live fixture's Kafka and
InfluxDB (rules worker and writer running). An event produced to Kafka reaches /api/alerts and
/api/stream within seconds; an ack from the console goes to ivig.actions.v1 and the alert becomes
acknowledged once the rules worker has processed it; anonymous requests are refused; password guessing
is throttled per client, a stream ends at logout, a logout outlives a restart, foreign Host names get
421."""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from streams.apps.console.auth import COOKIE, hash_password
from streams.apps.console.revocations import revocation_path
from streams.apps.console.web_app import running_console
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ACTIONS_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import Live, as_message, event, new_patient, produce, wait_for_points

pytestmark = pytest.mark.integration

NURSE, PASSWORD = "rn-int", "pw-integration-1"
CSRF = {"X-Requested-With": "ivigwatch"}


def console_settings(live: Live) -> Settings:
    values = live.settings.model_dump()
    return Settings(
        **{**values, "console_users": f"{NURSE}:{hash_password(PASSWORD)}", "console_secret": "k" * 32}
    )


def anaphylaxis(patient: str) -> list[dict[str, Any]]:
    return [
        event(patient, 0, type="profile", risk_factors=["first_infusion"], epinephrine_available=True),
        event(
            patient, -5, type="vitals", heart_rate=74, systolic_bp=124, diastolic_bp=80, temperature_c=36.7
        ),
        event(patient, 0, type="vitals", heart_rate=76, systolic_bp=122, diastolic_bp=80, temperature_c=36.7),
        event(patient, 1, type="infusion", action="start", rate_ml_per_h=40, product="Privigen"),
        event(patient, 2, type="symptom", symptom="hives", severity="moderate"),
        event(patient, 3, type="symptom", symptom="throat_tightness", severity="severe"),
    ]


@dataclass
class Console:
    url: str
    http: aiohttp.ClientSession


@pytest.fixture
async def console(live: Live) -> AsyncIterator[Console]:
    async with running_console(console_settings(live), "127.0.0.1", 0) as url:
        jar = aiohttp.CookieJar(unsafe=True)  # the console is on an IP address
        async with aiohttp.ClientSession(url, cookie_jar=jar) as http:
            login = await http.post("/login", data={"username": NURSE, "password": PASSWORD})
            assert login.status == 200 and str(login.url).endswith("/"), login.url
            yield Console(url, http)


class Stream:
    """A client of /api/stream, reading events as they come."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, timeout: float) -> tuple[str, Any]:
        name, data = "", ""
        while True:
            raw = await asyncio.wait_for(self.response.content.readline(), timeout)
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and name:
                return name, json.loads(data)

    async def until(self, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            name, data = await self.next(max(deadline - time.monotonic(), 0.01))
            if name == "alert" and predicate(data):
                return dict(data)


async def test_an_event_in_kafka_reaches_the_api_and_the_stream_within_seconds(
    console: Console, live: Live
) -> None:
    patient = new_patient()
    alert_id = f"{patient}-s1:anaphylaxis:1"
    async with console.http.get("/api/stream") as response:
        stream = Stream(response)
        name, snapshot = await stream.next(10)
        assert name == "snapshot" and alert_id not in {a["alert_id"] for a in snapshot["open"]}
        started = time.monotonic()
        await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in anaphylaxis(patient)])
        view = await stream.until(lambda a: a["alert_id"] == alert_id)
        latency = time.monotonic() - started
    print(f"produce -> SSE: {latency:.2f} s")
    assert latency < 10, f"the alert took {latency:.1f} s to reach the stream"
    assert (view["severity"], view["status"], view["patient_id"]) == ("critical", "firing", patient)
    assert view["first_fired"] and view["acted_by"] == [] and "epinephrine" in view["action"]
    opened = (await (await console.http.get("/api/alerts")).json())["open"]
    assert alert_id in [a["alert_id"] for a in opened]
    assert opened[0]["severity"] == "critical"  # critical first


async def test_ack_goes_to_the_actions_topic_and_the_alert_becomes_acknowledged(
    console: Console, live: Live
) -> None:
    patient = new_patient()
    alert_id = f"{patient}-s1:anaphylaxis:1"
    actions = kafka_clients.consumer(live.settings, ACTIONS_TOPIC, group_id=None)
    await actions.start()
    try:
        await actions.seek_to_end()
        for tp in actions.assignment():
            await actions.position(tp)
        async with console.http.get("/api/stream") as response:
            stream = Stream(response)
            await stream.next(10)
            await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in anaphylaxis(patient)])
            await stream.until(lambda a: a["alert_id"] == alert_id)

            refused = await console.http.post(f"/api/alerts/{alert_id}/ack", json={})
            assert refused.status == 403  # no CSRF header
            sent = await console.http.post(
                f"/api/alerts/{alert_id}/ack", headers=CSRF, json={"note": "called; epinephrine given"}
            )
            assert sent.status == 202
            action = (await sent.json())["action"]
            assert (action["type"], action["by"], action["patient_id"]) == ("ack", NURSE, patient)

            produced = []
            deadline = time.monotonic() + 10
            while not produced and time.monotonic() < deadline:
                batch = await actions.getmany(timeout_ms=250)
                produced = [r for records in batch.values() for r in records if r.key == patient.encode()]
            assert produced, "the action never reached ivig.actions.v1"
            assert json.loads(produced[0].value) == action

            acked = await stream.until(lambda a: a["alert_id"] == alert_id and a["status"] == "acknowledged")
    finally:
        await actions.stop()
    assert (acked["by"], acked["acted_by"]) == (NURSE, [NURSE])
    view = {a["alert_id"]: a for a in (await (await console.http.get("/api/alerts")).json())["open"]}
    assert view[alert_id]["status"] == "acknowledged"

    noted = await console.http.post(
        f"/api/alerts/{alert_id}/note", headers=CSRF, json={"note": "in hospital"}
    )
    assert noted.status == 202
    resolved = await console.http.post(f"/api/alerts/{alert_id}/resolve", headers=CSRF, json={})
    assert resolved.status == 202
    deadline = time.monotonic() + 20
    gone: dict[str, Any] = {}
    while time.monotonic() < deadline and not gone:
        latest = (await (await console.http.get("/api/alerts")).json())["resolved"]
        gone = next((a for a in latest if a["alert_id"] == alert_id), {})
        await asyncio.sleep(0.3)
    assert gone, "the resolution never came back from the rules worker"
    assert gone["acted_by"] == [NURSE] and [n["note"] for n in gone["notes"]] == ["in hospital"]


async def test_the_session_api_reads_the_stored_session(console: Console, live: Live) -> None:
    patient = new_patient()
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in anaphylaxis(patient)])
    where = f"WHERE session_id = '{patient}-s1'"
    # the alert the assertion below needs, not just any first one (they may come in separate batches)
    anaphylaxis_alert = f"SELECT * FROM alerts {where} AND condition = 'anaphylaxis'"
    assert await wait_for_points(live.settings, anaphylaxis_alert, 1)
    data = await (await console.http.get(f"/api/sessions/{patient}-s1")).json()
    assert data["patient_id"] == patient and len(data["vitals"]) == 2
    assert data["baseline"]["temperature_c"] == pytest.approx(36.7)
    assert data["profile"]["risk_factors"] == ["first_infusion"]
    assert [s["symptom"] for s in data["symptoms"]] == ["hives", "throat_tightness"]
    assert "anaphylaxis" in {a["condition"] for a in data["alerts"]}
    assert (await console.http.get("/api/sessions/pt-nobody-s1")).status == 404


async def test_anonymous_requests_are_refused(console: Console) -> None:
    async with aiohttp.ClientSession(console.url) as anonymous:
        for path in ("/", "/sessions/pt-x-s1"):
            page = await anonymous.get(path, allow_redirects=False)
            assert (page.status, page.headers["Location"]) == (303, "/login")
        for path in ("/api/alerts", "/api/stream", "/api/sessions/pt-x-s1"):
            api = await anonymous.get(path)
            assert api.status == 401 and await api.json() == {"error": "login required"}
        post = await anonymous.post("/api/alerts/pt-x-s1:fever:1/ack", headers=CSRF, json={})
        assert post.status == 401
        for password, status in ((PASSWORD, 200), ("wrong", 401)):
            token = base64.b64encode(f"{NURSE}:{password}".encode()).decode()
            basic = await anonymous.get("/api/alerts", headers={"Authorization": f"Basic {token}"})
            assert basic.status == status


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{NURSE}:{password}".encode()).decode()}


async def test_basic_guessing_is_throttled_for_that_client_only(console: Console) -> None:
    """A guessing loop against HTTP Basic: a few passwords are checked, the rest answered 429 at once."""
    answers: collections.Counter[int] = collections.Counter()
    retry_after: set[str] = set()
    stop = time.monotonic() + 3.0

    async def guesser(worker: int, http: aiohttp.ClientSession) -> None:
        n = 0
        while time.monotonic() < stop:
            n += 1
            async with http.get("/api/alerts", headers=basic(f"guess-{worker}-{n}")) as response:
                answers[response.status] += 1
                if response.status == 429:
                    retry_after.add(response.headers["Retry-After"])

    async with aiohttp.ClientSession(console.url) as http:
        began = time.monotonic()
        await asyncio.gather(*(guesser(w, http) for w in range(4)))
        took = time.monotonic() - began
        print(f"Basic guessing for {took:.1f} s: {dict(answers)} ({answers[401] / took:.1f} checked/s)")
        assert set(answers) == {401, 429}
        assert answers[401] <= 5  # 3 free, then one after 1 s and one after 2 more
        assert retry_after <= {"1", "2", "3", "4"}
        # The right password sent just after a checked wrong one (which starts a wait of 4 s or more) is
        # not checked. Not simply after the loop: the wait the loop's last check started may end then.
        while True:
            async with http.get("/api/alerts", headers=basic("guess-last")) as response:
                if response.status != 429:
                    assert response.status == 401
                    break
        assert (await http.get("/api/alerts", headers=basic(PASSWORD))).status == 429  # not checked
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))  # the nurse elsewhere: not locked out
    async with aiohttp.ClientSession(console.url, connector=other) as elsewhere:
        assert (await elsewhere.get("/api/alerts", headers=basic(PASSWORD))).status == 200
    assert (await console.http.get("/api/alerts")).status == 200  # open sessions are not touched


async def test_the_stream_ends_at_logout_and_the_cookie_stays_dead(console: Console) -> None:
    cookie = console.http.cookie_jar.filter_cookies(URL(console.url))[COOKIE].value
    async with console.http.get("/api/stream") as response:
        stream = Stream(response)
        assert (await stream.next(10))[0] == "snapshot"
        out = await console.http.post("/logout", allow_redirects=False)
        assert out.status == 303
        started = time.monotonic()
        assert await stream.next(2.0) == ("end", {"reason": "logged_out"})
        while await asyncio.wait_for(response.content.readany(), 2.0):
            pass
        print(f"logout -> end of stream: {time.monotonic() - started:.3f} s")
    async with aiohttp.ClientSession(console.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as copy:
        copy.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await copy.get("/api/alerts")).status == 401


async def test_a_logout_outlives_a_restart_of_the_console(live: Live) -> None:
    settings = console_settings(live)
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        running_console(settings, "127.0.0.1", 0) as url,
        aiohttp.ClientSession(url, cookie_jar=jar) as http,
    ):
        assert (await http.post("/login", data={"username": NURSE, "password": PASSWORD})).status == 200
        cookie = jar.filter_cookies(URL(url))[COOKIE].value
        assert (await http.post("/logout")).status == 200
    mode = revocation_path(settings.state_dir).stat().st_mode & 0o777
    assert mode == 0o600, oct(mode)
    async with (
        running_console(settings, "127.0.0.1", 0) as url,
        aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as restarted,
    ):
        restarted.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await restarted.get("/api/alerts")).status == 401


async def test_a_request_naming_another_host_is_refused(console: Console) -> None:
    port = console.url.rsplit(":", 1)[1]
    rebinding = {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"}
    async with aiohttp.ClientSession(console.url) as http:
        assert (await http.get("/api/alerts", headers={**rebinding, **basic(PASSWORD)})).status == 421
        login = await http.post(
            "/login", data={"username": NURSE, "password": PASSWORD}, headers=rebinding, allow_redirects=False
        )
        assert login.status == 421
        assert (await http.get("/healthz", headers={"Host": f"localhost:{port}"})).status == 200


def test_the_console_command_prints_its_url_and_serves(live: Live, tmp_path: Path) -> None:
    env = {**os.environ, **console_settings(live).to_env(), "IVIGWATCH_CONSOLE_PORT": "0"}
    log = tmp_path / "console.log"
    with log.open("w") as stderr:  # a file, not a pipe nobody reads: a full pipe would block the console
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.apps.cli.main", "console"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Nurse console on http://127.0.0.1:"), line
        url = line.split()[3].rstrip("/")
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 - loopback
            assert json.loads(response.read())["status"] == "ok"
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        assert code == 0, (
            f"the console did not stop on SIGTERM (exit {code}); its log:\n{log.read_text()[-4000:]}"
        )
