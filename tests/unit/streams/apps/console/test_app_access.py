"""The console's access rules with aiohttp's test client and fakes: single sign-on only (no local
accounts), the SSO routes' refusals without a provider, a nurse refused the admins' audit query.
The real provider and stack: tests/integration/test_console_access.py."""

from __future__ import annotations

from pathlib import Path

from streams.apps.console.sso import PENDING_COOKIE
from tests.unit.streams.apps.console.test_app import console_settings, serving

SSO = {
    "console_oidc_issuer": "http://127.0.0.1:9",  # nothing listens there
    "console_oidc_client_id": "ivigwatch-console",
    "console_oidc_roles": "ivig-nurses=nurse",
}


async def test_with_single_sign_on_the_local_accounts_may_be_unset(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path, console_users=None, **SSO)) as ready:
        login = await ready.client.get("/login")
        assert login.status == 200 and 'id="sso-login" href="/login/sso"' in await login.text()
        unreachable = await ready.client.get("/login/sso", allow_redirects=False)
        assert unreachable.status == 502 and 'id="sso-error"' in await unreachable.text()
        assert PENDING_COOKIE not in unreachable.cookies or not unreachable.cookies[PENDING_COOKIE].value
        stale = await ready.client.get("/login/sso/callback", params={"code": "c", "state": "s"})
        assert stale.status == 400 and "not started here" in await stale.text()
        assert (await ready.client.get("/api/alerts")).status == 401


async def test_without_single_sign_on_there_is_no_sso_link_or_route(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path)) as ready:
        assert "sso-login" not in await (await ready.client.get("/login")).text()
        assert (await ready.client.get("/login/sso", allow_redirects=False)).status == 404


async def test_a_nurse_may_not_query_the_audit_log(tmp_path: Path) -> None:
    async with serving(console_settings(tmp_path)) as ready:
        await ready.login()
        refused = await ready.client.get("/api/audit")
        assert refused.status == 403 and "audit_query" in (await refused.json())["error"]
