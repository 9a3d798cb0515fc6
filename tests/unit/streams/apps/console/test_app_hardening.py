"""The console's defences with aiohttp's test client (issue 13, finding 4): failed logins throttled per
client without scrypt, streams that end with their session, logouts that outlive a restart, and the
Host and Origin checks against DNS rebinding. Kafka is a fake here; the real stack is in
tests/integration/test_console_api.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse

from streams.apps.console.access import AUTH_KEY
from streams.apps.console.auth import COOKIE, Authenticator
from streams.apps.console.revocations import revocation_path
from tests.unit.streams.apps.console.test_app import (
    CSRF,
    NURSE,
    PASSWORD,
    Setup,
    console_settings,
    firing,
    read_event,
    serving,
)

OTHER_CLIENT = "127.0.0.2"
"""A second loopback address to connect from: the console sees another client."""


def basic(password: str, name: str = NURSE) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with serving(console_settings(tmp_path)) as ready:
        yield ready


def authenticator(setup: Setup) -> Authenticator:
    app = setup.client.app
    assert app is not None
    auth: Authenticator = app[AUTH_KEY]
    return auth


@contextlib.contextmanager
def counted_password_checks(setup: Setup) -> Iterator[list[str]]:
    """The names whose password was checked (scrypt run) while inside."""
    auth, checked = authenticator(setup), []
    real = auth.check_password

    def counting(name: str, password: str) -> bool:
        checked.append(name)
        return real(name, password)

    auth.check_password = counting  # type: ignore[method-assign]
    try:
        yield checked
    finally:
        del auth.check_password


@contextlib.asynccontextmanager
async def other_client(setup: Setup) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the same console connecting from another address, with cookies of its own."""
    connector = aiohttp.TCPConnector(local_addr=(OTHER_CLIENT, 0))
    async with aiohttp.ClientSession(
        str(setup.client.make_url("")), connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        yield session


async def form_login(http: Any, password: str, name: str = NURSE, **kwargs: Any) -> ClientResponse:
    data = {"username": name, "password": password}
    response: ClientResponse = await http.post("/login", data=data, allow_redirects=False, **kwargs)
    return response


# --- 1 and 2: failed logins ----------------------------------------------------------------------
async def test_basic_guessing_is_throttled_without_scrypt_and_only_for_that_client(setup: Setup) -> None:
    with counted_password_checks(setup) as checked:
        for n in range(3):
            assert (await setup.client.get("/api/alerts", headers=basic(f"guess-{n}"))).status == 401
        throttled = await setup.client.get("/api/alerts", headers=basic(PASSWORD))  # even the right one
        assert throttled.status == 429
        assert throttled.headers["Retry-After"] == "1"
        assert (await throttled.json())["error"].startswith("too many failed logins")
        assert PASSWORD not in await throttled.text()
        assert len(checked) == 3  # the throttled try ran no scrypt
        form = await form_login(setup.client, PASSWORD)  # the form shares the count
        assert form.status == 429 and len(checked) == 3
        async with other_client(setup) as other:  # the nurse is not locked out from elsewhere
            assert (await other.get("/api/alerts", headers=basic(PASSWORD))).status == 200
            assert (await form_login(other, PASSWORD)).status == 303
        assert len(checked) == 5
    auth = authenticator(setup)
    auth.throttle.clock = lambda: time.monotonic() + 1.5  # the delay is over
    assert (await setup.client.get("/api/alerts", headers=basic(PASSWORD))).status == 200


async def test_the_login_form_says_how_long_to_wait_and_a_right_login_starts_afresh(setup: Setup) -> None:
    for _ in range(2):
        assert (await form_login(setup.client, "wrong")).headers["Location"] == "/login?error=1"
    assert (await form_login(setup.client, PASSWORD)).headers["Location"] == "/"
    for _ in range(3):  # three free failures again: the right login cleared them
        assert (await form_login(setup.client, "wrong")).headers["Location"] == "/login?error=1"
    with counted_password_checks(setup) as checked:
        page = await form_login(setup.client, PASSWORD)
    assert checked == []
    assert page.status == 429 and page.headers["Retry-After"] == "1"
    text = await page.text()
    assert 'id="login-wait"' in text and "Too many failed logins" in text and "Wait 1 seconds" in text
    assert 'id="username"' in text and PASSWORD not in text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


async def test_guessing_many_names_from_one_client_slows_that_client_down(setup: Setup) -> None:
    for n in range(10):
        await form_login(setup.client, "wrong", name=f"rn-{n}")
    assert (await form_login(setup.client, PASSWORD)).status == 429
    async with other_client(setup) as other:
        assert (await form_login(other, PASSWORD)).status == 303


async def test_behind_a_trusted_proxy_one_guesser_does_not_slow_down_the_other_nurses(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path, console_trusted_proxies="127.0.0.1")) as ready:
        guesser, nurse = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}
        for n in range(12):
            await ready.client.get("/api/alerts", headers={**guesser, **basic(f"guess-{n}")})
        assert (await ready.client.get("/api/alerts", headers={**guesser, **basic(PASSWORD)})).status == 429
        assert (await ready.client.get("/api/alerts", headers={**nurse, **basic(PASSWORD)})).status == 200


async def test_failed_logins_are_logged_with_client_and_name_never_the_password(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="streams.apps.console")
    for n in range(3):
        await form_login(setup.client, f"secret-guess-{n}")
    messages = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "streams.apps.console.auth"
    ]
    assert messages[0] == ("INFO", f"console login failed for '{NURSE}' from 127.0.0.1")
    assert messages[-1] == (
        "WARNING",
        f"console login failed for '{NURSE}' from 127.0.0.1; its next try waits 1 s",
    )
    assert "secret-guess" not in caplog.text


# --- 3: streams end with their session --------------------------------------------------------------
async def ends_within(response: ClientResponse, seconds: float) -> float:
    """Read the stream to its end; how long that took (fails if it is still open after `seconds`)."""
    started = time.monotonic()
    with contextlib.suppress(aiohttp.ClientPayloadError):
        while await asyncio.wait_for(response.content.readany(), seconds):
            pass
    return time.monotonic() - started


async def test_a_stream_ends_at_the_logout_of_its_session_and_only_that_one(setup: Setup) -> None:
    await setup.login()
    async with other_client(setup) as second:  # the same nurse in another browser: another session
        assert (await form_login(second, PASSWORD)).status == 303
        mine = await setup.client.get("/api/stream")
        theirs = await second.get("/api/stream")
        assert (await read_event(mine))[0] == "snapshot" and (await read_event(theirs))[0] == "snapshot"
        out = await setup.client.post("/logout", allow_redirects=False)
        assert out.status == 303
        started = time.monotonic()
        assert await read_event(mine) == ("end", {"reason": "logged_out"})  # the page goes to /login
        assert await ends_within(mine, 2.0) + time.monotonic() - started < 2.0
        setup.hub.on_alert(firing())
        event, view = await read_event(theirs)  # the other session's stream goes on
        assert (event, view["alert_id"]) == ("alert", "pt-a-s1:anaphylaxis:1")
        theirs.close()


async def test_a_stream_ends_when_its_session_expires(setup: Setup) -> None:
    authenticator(setup).session_seconds = 2
    await setup.login()
    response = await setup.client.get("/api/stream")
    assert (await read_event(response))[0] == "snapshot"
    scripted = await setup.client.get("/api/stream", headers=basic(PASSWORD), cookies={COOKIE: ""})
    assert (await read_event(scripted))[0] == "snapshot"
    assert await read_event(response) == ("end", {"reason": "expired"})
    assert await ends_within(response, 2.0) < 2.0
    assert await read_event(scripted) == ("end", {"reason": "expired"})  # Basic: one session's length
    assert await ends_within(scripted, 2.0) < 2.0
    assert (await setup.client.get("/api/alerts")).status == 401


# --- 4: a logout outlives a restart ---------------------------------------------------------------
async def test_a_logged_out_session_stays_out_after_a_restart(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with serving(settings) as first:
        await first.login()
        ended = first.client.session.cookie_jar.filter_cookies(first.client.make_url("/"))[COOKIE].value
        async with other_client(first) as second:
            assert (await form_login(second, PASSWORD)).status == 303
            kept = second.cookie_jar.filter_cookies(first.client.make_url("/"))[COOKIE].value
        assert (await first.client.post("/logout", allow_redirects=False)).status == 303
    path = revocation_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert NURSE not in path.read_text() and len(json.loads(path.read_text())["revoked"]) == 1
    async with serving(settings) as restarted:
        jar = restarted.client.session.cookie_jar
        jar.update_cookies({COOKIE: ended})
        assert (await restarted.client.get("/api/alerts")).status == 401
        jar.update_cookies({COOKIE: kept})
        assert (await restarted.client.get("/api/alerts")).status == 200  # only the ended one


async def test_a_broken_revocation_file_makes_everyone_log_in_again(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    async with serving(settings) as first:
        await first.login()
        cookie = first.client.session.cookie_jar.filter_cookies(first.client.make_url("/"))[COOKIE].value
    revocation_path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    revocation_path(tmp_path).write_text("{broken")
    await asyncio.sleep(1.0)  # sessions from the second before the start are refused
    async with serving(settings) as restarted:
        restarted.client.session.cookie_jar.update_cookies({COOKIE: cookie})
        assert (await restarted.client.get("/api/alerts")).status == 401
        await restarted.login()
        assert (await restarted.client.get("/api/alerts")).status == 200


async def test_without_a_fixed_key_nothing_is_written(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path, console_secret=None)) as ready:
        await ready.login()
        assert (await ready.client.post("/logout", allow_redirects=False)).status == 303
    assert not revocation_path(tmp_path).parent.exists()


# --- 5: Host and Origin -----------------------------------------------------------------------------
async def test_a_request_for_another_host_name_is_refused_before_anything_else(setup: Setup) -> None:
    port = setup.client.port
    evil = {"Host": f"evil.example:{port}"}
    with counted_password_checks(setup) as checked:
        for path in ("/healthz", "/login", "/static/console.css", "/api/alerts"):
            response = await setup.client.get(path, headers={**evil, **basic(PASSWORD)})
            assert response.status == 421, path
        # a DNS-rebinding page: its Origin and Host both name its own site
        rebinding = await form_login(
            setup.client, PASSWORD, headers={**evil, "Origin": f"http://evil.example:{port}"}
        )
        assert rebinding.status == 421 and COOKIE not in rebinding.cookies
    assert checked == []
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert (await setup.client.get("/healthz", headers={"Host": host})).status == 200
    assert (await setup.client.get("/healthz", headers={"Host": "localhost:1"})).status == 421


async def test_origin_is_compared_with_the_configured_names(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path, console_hosts="console.example.org")) as ready:
        proxied = {"Host": "console.example.org", "Origin": "https://console.example.org"}
        login = await form_login(ready.client, PASSWORD, headers=proxied)  # behind a TLS reverse proxy
        assert login.status == 303 and login.headers["Location"] == "/"
        ready.hub.on_alert(firing())
        ack = "/api/alerts/pt-a-s1:anaphylaxis:1/ack"
        foreign = await ready.client.post(ack, headers={**CSRF, "Origin": "https://evil.example"})
        assert foreign.status == 403 and ready.actions.sent == []
        refused = await form_login(ready.client, PASSWORD, headers={"Origin": "http://evil.example"})
        assert refused.status == 403
        ok = await ready.client.post(ack, headers={**CSRF, "Origin": f"http://127.0.0.1:{ready.client.port}"})
        assert ok.status == 202
