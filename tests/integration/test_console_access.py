"""Roles, the audit log and single sign-on of the console on the real stack (the live fixture's Kafka,
InfluxDB and workers), with a real OpenID Connect provider (oidc-provider-mock) on a thread.

An analyst sees alerts and sessions but every action is refused (403) and the page has no action
buttons; each patient view of the test is in the audit log, which an admin can query and a nurse
cannot; an SSO login (code flow, PKCE, state, nonce) gives the role the provider's groups map to.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from oidc_provider_mock import run_server_in_thread
from yarl import URL

from streams.apps.console.auth import hash_password
from streams.apps.console.web_app import running_console
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import Live, as_message, new_patient, produce, wait_for_points
from tests.integration.test_console_api import CSRF, Stream, anaphylaxis

pytestmark = pytest.mark.integration

NURSE, ANALYST, ADMIN, PASSWORD = "rn-acc", "an-acc", "ad-acc", "pw-access-1"
ROLE_MAP = "ivig-nurses=nurse,ivig-charge=charge_nurse,ivig-analysts=analyst,ivig-admins=admin"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OpenID Connect provider on a free port; yields its issuer URL."""
    with run_server_in_thread(port=0, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def access_settings(live: Live, issuer: str) -> Settings:
    hashed = hash_password(PASSWORD)
    users = f"{NURSE}:{hashed},{ANALYST}:{hashed}:analyst,{ADMIN}:{hashed}:admin"
    return Settings(
        **{
            **live.settings.model_dump(),
            "console_users": users,
            "console_secret": "a" * 32,
            "console_oidc_issuer": issuer,
            "console_oidc_client_id": "ivigwatch-console",
            "console_oidc_client_secret": "console-secret",
            "console_oidc_roles": ROLE_MAP,
        }
    )


@pytest.fixture
async def console(live: Live, provider: str) -> AsyncIterator[str]:
    async with running_console(access_settings(live, provider), "127.0.0.1", 0) as url:
        yield url


async def logged_in(url: str, name: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    login = await http.post("/login", data={"username": name, "password": PASSWORD})
    assert login.status == 200 and str(login.url).endswith("/"), login.url
    return http


async def test_an_analyst_reads_but_cannot_act_and_every_view_is_audited(console: str, live: Live) -> None:
    patient = new_patient()
    session_id, alert_id = f"{patient}-s1", f"{patient}-s1:anaphylaxis:1"
    nurse, analyst, admin = [await logged_in(console, n) for n in (NURSE, ANALYST, ADMIN)]
    try:
        async with analyst.get("/api/stream") as response:
            stream = Stream(response)
            await stream.next(10)
            await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in anaphylaxis(patient)])
            await stream.until(lambda a: a["alert_id"] == alert_id)
        assert await wait_for_points(
            live.settings, f"SELECT * FROM alerts WHERE session_id = '{session_id}'", 1
        )
        page = await (await analyst.get("/")).text()
        assert 'data-role="analyst" data-actions=""' in page
        assert alert_id in {a["alert_id"] for a in (await (await analyst.get("/api/alerts")).json())["open"]}
        assert (await analyst.get(f"/sessions/{session_id}")).status == 200
        assert (await (await analyst.get(f"/api/sessions/{session_id}")).json())["patient_id"] == patient
        for kind in ("ack", "resolve", "note", "handover", "limit", "snooze"):
            refused = await analyst.post(f"/api/alerts/{alert_id}/{kind}", headers=CSRF, json={"note": "x"})
            assert refused.status == 403, kind
        assert 'data-actions="ack resolve note handover"' in await (await nurse.get("/")).text()
        assert alert_id in {a["alert_id"] for a in (await (await nurse.get("/api/alerts")).json())["open"]}

        for user in (nurse, analyst):
            assert (await user.get("/api/audit")).status == 403
        answer = await admin.get("/api/audit", params={"patient": patient})
        assert answer.status == 200
        records = (await answer.json())["records"]
        narrowed = await admin.get("/api/audit", params={"user": NURSE, "patient": patient})
        by_user = (await narrowed.json())["records"]
        earlier = await admin.get("/api/audit", params={"patient": patient, "until": records[0]["ts"]})
        before_first = (await earlier.json())["records"]
    finally:
        for http in (nurse, analyst, admin):
            await http.close()
    seen = {(r["user"], r["role"], r["what"]) for r in records}
    assert seen == {
        (ANALYST, "analyst", "alert stream"),
        (ANALYST, "analyst", "alert list"),
        (ANALYST, "analyst", "session page"),
        (ANALYST, "analyst", "session data"),
        (NURSE, "nurse", "alert list"),
    }
    for record in records:
        assert set(record) == {"ts", "user", "role", "patient", "what", "subject", "client"}
        assert (record["patient"], record["client"]) == (patient, "127.0.0.1")
    assert {r["subject"] for r in records if r["what"].startswith("session")} == {session_id}
    text = json.dumps(records)
    assert "throat" not in text and "hives" not in text and "epinephrine" not in text

    assert by_user and {r["user"] for r in by_user} == {NURSE}
    assert before_first == []


async def sso_login(console: str, provider: str, sub: str, claims: dict[str, Any]) -> aiohttp.ClientSession:
    """What a browser does: the console sends it to the provider, the person logs in there (the mock's
    form: a subject), the provider sends it back with a code."""
    async with aiohttp.ClientSession() as idp:
        assert (await idp.put(f"{provider}/users/{sub}", json=claims)).status == 204
        http = aiohttp.ClientSession(console, cookie_jar=aiohttp.CookieJar(unsafe=True))
        start = await http.get("/login/sso", allow_redirects=False)
        assert start.status == 303, await start.text()
        authorize = URL(start.headers["Location"])
        assert authorize.query["code_challenge_method"] == "S256" and authorize.query["nonce"]
        answer = await idp.post(authorize, data={"sub": sub}, allow_redirects=False)
        assert answer.status == 302, await answer.text()
    callback = URL(answer.headers["Location"])
    assert callback.path == "/login/sso/callback" and callback.query["state"] == authorize.query["state"]
    done = await http.get(callback.path_qs)
    assert done.status in (200, 403), done.status
    return http


async def test_single_sign_on_gives_the_role_of_the_providers_groups(console: str, provider: str) -> None:
    charge = await sso_login(
        console, provider, "u-charge", {"preferred_username": "cn.sso", "groups": ["staff", "ivig-charge"]}
    )
    analyst = await sso_login(
        console, provider, "u-analyst", {"preferred_username": "an.sso", "groups": "ivig-analysts"}
    )
    nobody = await sso_login(
        console, provider, "u-other", {"preferred_username": "x.sso", "groups": ["staff"]}
    )
    impostor = await sso_login(  # a provider user named like a local account: one name, one person
        console, provider, "u-impostor", {"preferred_username": NURSE, "groups": ["ivig-admins"]}
    )
    try:
        assert (await impostor.get("/api/alerts")).status == 401, "an SSO user took a local account's name"
        page = await (await charge.get("/")).text()
        assert "cn.sso" in page and 'data-role="charge_nurse"' in page
        assert 'data-actions="ack resolve note handover limit snooze"' in page
        assert (await charge.get("/api/alerts")).status == 200
        assert (await analyst.post("/api/alerts/pt-x-s1:fever:1/ack", headers=CSRF, json={})).status == 403
        assert (await nobody.get("/api/alerts")).status == 401, "a user with no mapped group has no session"

        # a callback whose state is not the one this browser started with is refused
        start = await charge.get("/login/sso", allow_redirects=False)
        assert start.status == 303
        forged = await charge.get("/login/sso/callback", params={"code": "x", "state": "not-mine"})
        assert forged.status == 403 and "state" in await forged.text()

        await charge.post("/logout")
        assert (await charge.get("/api/alerts")).status == 401
    finally:
        for http in (charge, analyst, nobody, impostor):
            await http.close()
