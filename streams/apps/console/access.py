"""The console's door: the middleware refusing anonymous and cross-site requests, login and logout.

Every page and API needs a session cookie (or HTTP Basic on /api/*); every POST whose Origin names
another site is refused; POSTs other than the login and logout forms need the CSRF header. A failed
password (form or Basic) slows its client down (`throttle`): a throttled try is answered at once with
429 and runs no scrypt. Each request carries its user's role: a role that may take no action (analyst)
gets 403 on every POST to /api/*, and each action handler asks `require(request, action)`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from streams.apps.console.auth import COOKIE, Authenticator, LoginThrottled, Session
from streams.apps.console.clients import client_of
from streams.apps.console.hosts import Handler, origin_allowed
from streams.apps.console.roles import Action, Role, allowed_actions, can
from streams.apps.console.templates import login_page
from streams.apps.console.throttle import whole_seconds
from streams.infra.metrics.web_metrics import CONSOLE_LOGINS

CSRF_HEADER, CSRF_VALUE = "X-Requested-With", "ivigwatch"
PUBLIC = frozenset(
    {
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),  # its own scrape credential (streams.apps.metrics_page)
        ("GET", "/static/console.css"),
        ("GET", "/static/favicon.svg"),
        ("GET", "/login/sso"),
        ("GET", "/login/sso/callback"),
    }
)
"""What a request without a session may reach: the login form, its stylesheet and icon, the health
check, /metrics (which asks for the scrape token, or a loopback client), and the single sign-on
redirect and callback (when OpenID Connect is configured)."""

AUTH_KEY = web.AppKey("authenticator", Authenticator)
_HAS_KEYS = hasattr(web, "RequestKey")  # aiohttp >= 3.14
_USER: Any = web.RequestKey("user", str) if _HAS_KEYS else "user"
_SESSION: Any = web.RequestKey("session", Session) if _HAS_KEYS else "session"
_ROLE: Any = web.RequestKey("role", str) if _HAS_KEYS else "role"


def nurse(request: web.Request) -> str:
    """The logged-in nurse of a request that passed `auth_middleware`."""
    return str(request[_USER])


def role(request: web.Request) -> Role:
    """The role of the logged-in user of a request that passed `auth_middleware`."""
    value: Role = request[_ROLE]
    return value


def require(request: web.Request, action: Action) -> None:
    """Raise 403 (JSON) unless the request's user may take `action` (roles.PERMISSIONS)."""
    if not can(role(request), action):
        raise web.HTTPForbidden(
            text=json.dumps({"error": f"the {role(request)} role may not {action}"}),
            content_type="application/json",
        )


def session_of(request: web.Request) -> Session | None:
    """The session cookie a request that passed `auth_middleware` came with (None: HTTP Basic)."""
    session: Session | None = request.get(_SESSION)
    return session


def _refuse(request: web.Request) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        return web.json_response(
            {"error": "login required"},
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="ivigwatch", charset="UTF-8"'},
        )
    if request.path.startswith("/static/"):
        return web.Response(status=401, text="login required")
    raise web.HTTPSeeOther("/login")


def _throttled(exc: LoginThrottled) -> web.Response:
    seconds = whole_seconds(exc.retry_after)
    return web.json_response(
        {"error": f"too many failed logins; try again in {seconds} s"},
        status=429,
        headers={"Retry-After": str(seconds)},
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page and API needs a session cookie (or Basic auth on /api/*); POSTs need the CSRF header."""
    if request.method == "POST" and not origin_allowed(request):
        return web.json_response({"error": "cross-origin form post refused"}, status=403)
    if (request.method, request.path) in PUBLIC:
        return await handler(request)
    session = request.app[AUTH_KEY].session(request.cookies.get(COOKIE))
    user = None if session is None else session.user
    if user is None and request.path.startswith("/api/"):
        try:
            header = request.headers.get("Authorization")
            user = await request.app[AUTH_KEY].basic_user(client_of(request), header)
        except LoginThrottled as exc:
            return _throttled(exc)
    if user is None:
        return _refuse(request)
    request[_USER] = user
    request[_ROLE] = request.app[AUTH_KEY].role_of(user) if session is None else session.role
    if session is not None:
        request[_SESSION] = session
    if request.method == "POST" and request.path.startswith("/api/") and not allowed_actions(role(request)):
        return web.json_response({"error": f"the {role(request)} role may not act"}, status=403)
    # the log-out button is a plain form post: the Origin check above is its CSRF guard
    csrf_ok = request.headers.get(CSRF_HEADER) == CSRF_VALUE
    if request.method == "POST" and request.path != "/logout" and not csrf_ok:
        return web.json_response({"error": f"missing header {CSRF_HEADER}: {CSRF_VALUE}"}, status=403)
    return await handler(request)


def _html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8", headers=headers)


async def login_page_post(request: web.Request) -> web.StreamResponse:
    """POST /login: a right name and password set the session cookie and go to /; while this client
    must wait, 429 and the form saying how long (nothing is checked)."""
    form = await request.post()
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    if not name or not password:
        raise web.HTTPSeeOther("/login?error=1")
    auth = request.app[AUTH_KEY]
    try:
        ok = await auth.login(client_of(request), name, password)
    except LoginThrottled as exc:
        CONSOLE_LOGINS.labels(outcome="throttled").inc()
        seconds = whole_seconds(exc.retry_after)
        page = login_page(error=False, wait=seconds, sso=auth.sso)
        return _html(page, 429, {"Retry-After": str(seconds)})
    CONSOLE_LOGINS.labels(outcome="ok" if ok else "failed").inc()
    if not ok:
        raise web.HTTPSeeOther("/login?error=1")
    response = web.HTTPSeeOther("/")
    set_session_cookie(request, response, auth.issue(name))
    raise response


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """The session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS), for password and SSO logins."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=request.app[AUTH_KEY].session_seconds,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=request.secure,
    )


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: the session ends here and now (its cookie is refused, its streams close)."""
    request.app[AUTH_KEY].revoke(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
