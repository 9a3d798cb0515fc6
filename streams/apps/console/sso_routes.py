"""The single sign-on routes: GET /login/sso (off to the identity provider) and its callback.

The callback answers with a tiny page that moves on to / itself: the session cookie is SameSite=Strict,
and a browser does not send it on a redirect chain that began at another site (the provider).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from streams.apps.console import access
from streams.apps.console.clients import client_of
from streams.apps.console.sso import (
    CALLBACK_PATH,
    PENDING_COOKIE,
    PENDING_SECONDS,
    OidcClient,
    Pending,
    PendingCodec,
    SsoError,
)
from streams.apps.console.templates import login_page, sso_done_page

log = logging.getLogger(__name__)

_COOKIE_PATH = "/login/sso"


@dataclass
class Sso:
    client: OidcClient
    codec: PendingCodec


SSO_KEY = web.AppKey("sso", Sso)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _failed(message: str, status: int) -> web.Response:
    response = _html(login_page(error=False, sso=True, sso_error=message), status)
    response.del_cookie(PENDING_COOKIE, path=_COOKIE_PATH)
    return response


async def sso_start(request: web.Request) -> web.StreamResponse:
    """GET /login/sso: remember state, nonce and verifier in a signed cookie; go to the provider."""
    sso = request.app[SSO_KEY]
    redirect_url = sso.client.config.redirect_url or f"{request.scheme}://{request.host}{CALLBACK_PATH}"
    pending = Pending.new(redirect_url, sso.client.clock())
    try:
        url = await sso.client.authorization_url(pending)
    except SsoError as exc:
        log.warning("single sign-on could not start: %s", exc)
        return _failed("The identity provider cannot be reached. Try again, or log in with a password.", 502)
    response = web.HTTPSeeOther(url)
    response.set_cookie(
        PENDING_COOKIE,
        sso.codec.dump(pending),
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="Lax",  # the callback is a top-level navigation from the provider's site
        path=_COOKIE_PATH,
        secure=request.secure,
    )
    raise response


async def sso_callback(request: web.Request) -> web.StreamResponse:
    """GET /login/sso/callback: the provider's answer becomes a session (the same cookie as a password
    login), or the login form says why not."""
    sso = request.app[SSO_KEY]
    pending = sso.codec.load(request.cookies.get(PENDING_COOKIE), sso.client.clock())
    if pending is None:
        return _failed("The single sign-on took too long or was not started here. Try again.", 400)
    if "error" in request.query or "code" not in request.query:
        return _failed("The identity provider did not log you in.", 401)
    try:
        user = await sso.client.finish(pending, request.query.get("state", ""), request.query["code"])
    except SsoError as exc:
        log.warning("single sign-on refused from %s: %s", client_of(request), exc)
        return _failed(f"Single sign-on refused: {exc}.", 403)
    authenticator = request.app[access.AUTH_KEY]
    if user.name in authenticator.accounts:  # one name, one person: a nurse's actions, pages and audit
        log.warning(
            "single sign-on refused from %s: %s is a local account's name", client_of(request), user.name
        )
        return _failed(f"Single sign-on refused: {user.name} is the name of a local account.", 403)
    log.info("%s logged in through single sign-on as %s from %s", user.name, user.role, client_of(request))
    response = _html(sso_done_page())
    access.set_session_cookie(request, response, authenticator.issue(user.name, sso_role=user.role))
    response.del_cookie(PENDING_COOKIE, path=_COOKIE_PATH)
    return response
