"""An id that reaches InfluxQL must be a whole pseudonym: a trailing newline or carriage return (which
`re.match` with `$` let through) is refused by `check_id`, `load_session` and both console routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agents.rules.loader import load_rules
from streams.apps.console.auth import hash_password
from streams.apps.console.feed import Hub
from streams.apps.console.web_app import create_console_app
from streams.apps.sessions import PSEUDONYM, SessionNotFound, SessionRecord, check_id, load_session
from streams.infra.settings import Settings

BAD_IDS = ["pt-1\n", "pt-1\r", "pt-1\r\n", "\npt-1", "pt-1\n' OR 1=1", "pt-1\x00", "pt 1", "", "p" * 65]
NURSE, PASSWORD = "rn-ids", "pw-ids-123"
CSRF = {"X-Requested-With": "ivigwatch"}


@pytest.mark.parametrize("bad", BAD_IDS)
def test_check_id_refuses_anything_but_a_whole_pseudonym(bad: str) -> None:
    with pytest.raises(ValueError, match="not a valid session id"):
        check_id(bad)
    assert PSEUDONYM.fullmatch(bad) is None
    assert PSEUDONYM.match(bad) is None  # anchored with \A...\Z: even a plain match is whole


def test_check_id_keeps_a_good_one() -> None:
    for good in ("pt-1", "pt-0001-s1", "a.b_c-D9", "p" * 64):
        assert check_id(good) == good


class RecordingClient:
    """An InfluxClient stand-in that records every statement it is sent."""

    db = "test"

    def __init__(self) -> None:
        self.statements: list[str] = []

    async def query(self, statement: str, **_: Any) -> list[dict[str, Any]]:
        self.statements.append(statement)
        return []


@pytest.mark.parametrize("bad", ["pt-1\n", "pt-1\r", "pt-1\r\n"])
async def test_load_session_sends_no_statement_for_a_bad_id(bad: str) -> None:
    client = RecordingClient()
    with pytest.raises(ValueError, match="not a valid session id"):
        await load_session(client, bad)  # type: ignore[arg-type]
    assert client.statements == []


class Loader:
    """The console's session loader: records the ids it is asked for (each would reach InfluxQL)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, session_id: str) -> SessionRecord:
        self.asked.append(session_id)
        raise SessionNotFound(session_id)


class NoActions:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, action: Any) -> None:
        pass


@pytest.fixture
async def console() -> AsyncIterator[tuple[TestClient[Any, Any], Loader]]:
    settings = Settings(console_users=f"{NURSE}:{hash_password(PASSWORD)}", console_secret="s" * 32)
    loader = Loader()
    app = create_console_app(settings, feed=Hub(), actions=NoActions(), sessions=loader, rules=load_rules())
    client = TestClient(TestServer(app))
    await client.start_server()
    login = await client.post("/login", data={"username": NURSE, "password": PASSWORD}, allow_redirects=False)
    assert login.status == 303
    try:
        yield client, loader
    finally:
        await client.close()


@pytest.mark.parametrize("encoded", ["pt-1%0A", "pt-1%0D", "pt-1%0D%0A"])
async def test_the_console_refuses_an_id_with_a_line_break(
    console: tuple[TestClient[Any, Any], Loader], encoded: str
) -> None:
    client, loader = console
    api = await client.get(f"/api/sessions/{encoded}", headers=CSRF)
    assert api.status == 400
    assert (await api.json())["error"] == "not a valid session id"
    page = await client.get(f"/sessions/{encoded}")
    assert page.status == 404
    assert loader.asked == []
    assert (await client.get("/api/sessions/pt-1", headers=CSRF)).status == 404  # a good id is looked up
    assert loader.asked == ["pt-1"]
