"""The nurse console's aiohttp application: pages, JSON API, the SSE stream, nurse actions.

`create_console_app(settings)` builds it (the Kafka feed and producer start with the app);
`running_console(settings)` serves it in-process and yields its base URL (tests, `ivigwatch console`).
Routes and DOM ids are the contract in docs/console-contract.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from agents.rules.loader import load_rules
from models.ruleset import RuleSet
from streams.apps.console import access, audit_log, auth, clients, hosts, roles
from streams.apps.console.action_sender import ActionSink, KafkaActions
from streams.apps.console.api import (
    CONSOLE_KEY,
    Console,
    SessionLoader,
    api_action,
    api_alerts,
    api_audit,
    api_session,
    api_stream,
)
from streams.apps.console.board import Board, KafkaBoard
from streams.apps.console.board_api import BOARD_KEY, api_board, api_board_stream
from streams.apps.console.feed import Feed, KafkaFeed
from streams.apps.console.limits_api import SETTINGS_KEY, api_set, api_settings
from streams.apps.console.revocations import RevocationFileError, RevocationStore, revocation_path
from streams.apps.console.sso import CALLBACK_PATH, OidcClient, PendingCodec, SsoConfig
from streams.apps.console.sso_routes import SSO_KEY, Sso, sso_callback, sso_start
from streams.apps.console.templates import board_page, console_page, limits_page, login_page, session_page
from streams.apps.console.throttle import LoginThrottle, ThrottlePolicy
from streams.apps.http_site import start_site
from streams.apps.metrics_page import metrics_route, request_metrics
from streams.apps.sessions import PSEUDONYM
from streams.infra.settings import Settings
from streams.infra.sinks.audit.audit_file import audit_path

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make form posts send Origin: null
    "Cache-Control": "no-store",
}


def create_console_app(
    settings: Settings,
    *,
    feed: Feed | None = None,
    actions: ActionSink | None = None,
    sessions: SessionLoader | None = None,
    rules: RuleSet | None = None,
    bind_host: str | None = None,
    board: Board | None = None,
) -> web.Application:
    """The console app (`bind_host`: the interface it will listen on, default IVIGWATCH_CONSOLE_HOST).
    Raises auth.AccountsError when IVIGWATCH_CONSOLE_USERS is malformed (or unset without single
    sign-on), sso.SsoSettingsError for half-set IVIGWATCH_CONSOLE_OIDC_*, hosts.HostsError or
    clients.TrustedProxiesError for a bad IVIGWATCH_CONSOLE_HOSTS or IVIGWATCH_CONSOLE_TRUSTED_PROXIES,
    and agents.rules.loader.RuleFileError for a bad rule file. Kafka is reached when the app starts (an
    unreachable broker raises aiokafka's KafkaConnectionError from `AppRunner.setup`). The caseload
    board follows ivig.events.v1 when the feed is the Kafka one (with a fake feed: a board with no Kafka)."""
    sso = SsoConfig.from_settings(settings)
    users = settings.console_users.get_secret_value() if settings.console_users else None
    local = {} if sso is not None and not (users or "").strip() else auth.parse_local_accounts(users)
    host_check = hosts.HostCheck.build(settings.console_hosts, bind_host or settings.console_host)
    proxies = clients.Clients.build(settings.console_trusted_proxies)
    console = Console(
        settings,
        feed if feed is not None else KafkaFeed(settings),
        actions if actions is not None else KafkaActions(settings),
        sessions,
        rules if rules is not None else load_rules(settings.rules_file),
    )
    app = web.Application(
        middlewares=[request_metrics("console"), hosts.host_middleware, access.auth_middleware]
    )
    app[hosts.HOSTS_KEY] = host_check
    app[clients.CLIENTS_KEY] = proxies
    authenticator = _authenticator(settings, {name: stored for name, (stored, _) in local.items()})
    authenticator.roles = {name: role for name, (_, role) in local.items()}
    app[access.AUTH_KEY] = authenticator
    app[CONSOLE_KEY] = console
    app[BOARD_KEY] = board if board is not None else _board(settings, console, fake_feed=feed is not None)
    app[audit_log.AUDIT_KEY] = audit_log.AuditLog(audit_path(settings.state_dir))
    if sso is not None:
        authenticator.sso = True
        app[SSO_KEY] = Sso(OidcClient(sso), PendingCodec(authenticator.secret))
        app.add_routes([web.get("/login/sso", sso_start), web.get(CALLBACK_PATH, sso_callback)])
    app[SETTINGS_KEY] = console.feed.setting_actions
    app.cleanup_ctx.append(_components)
    app.cleanup_ctx.append(_board_feed)
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(_security_headers)
    app.add_routes(
        [
            web.get("/healthz", healthz),
            web.route(*metrics_route(settings)),
            web.get("/login", login_get),
            web.post("/login", access.login_page_post),
            web.post("/logout", access.logout),
            web.get("/", index),
            web.get("/sessions/{session_id}", session_get),
            web.get("/api/alerts", api_alerts),
            web.get("/api/stream", api_stream),
            web.post("/api/alerts/{alert_id}/{kind}", api_action),
            web.get("/api/sessions/{session_id}", api_session),
            web.get("/board", board_get),
            web.get("/api/board", api_board),
            web.get("/api/board/stream", api_board_stream),
            web.get("/api/audit", api_audit),
            web.get("/patients/{patient_id}/limits", limits_get),
            web.get("/api/patients/{patient_id}/settings", api_settings),
            web.post("/api/patients/{patient_id}/{kind}", api_set),
            web.static("/static", STATIC_DIR),
        ]
    )
    return app


def _authenticator(settings: Settings, accounts: dict[str, str]) -> auth.Authenticator:
    """With IVIGWATCH_CONSOLE_SECRET set, sessions outlive a restart, and so do their revocations (kept
    under the state dir); without it the key is random, and every old cookie is invalid anyway."""
    policy = ThrottlePolicy(
        free_failures=settings.console_login_free_failures,
        client_free_failures=settings.console_login_client_free_failures,
        max_delay=settings.console_login_max_delay_seconds,
        forget_after=max(3600.0, settings.console_login_max_delay_seconds),
    )
    if not settings.console_secret:  # unset or empty
        return auth.Authenticator(accounts, secrets.token_bytes(32), throttle=LoginThrottle(policy))
    store = RevocationStore(revocation_path(settings.state_dir))
    now, not_before, revoked = time.time(), 0.0, {}
    try:
        revoked = store.load(now)
    except RevocationFileError as exc:
        log.warning("%s: sessions from before this start are refused (nurses log in again)", exc)
        not_before = now
    return auth.Authenticator(
        accounts,
        settings.console_secret.get_secret_value().encode(),
        throttle=LoginThrottle(policy),
        store=store,
        revoked=revoked,
        not_before=not_before,
    )


async def _components(app: web.Application) -> AsyncIterator[None]:
    console = app[CONSOLE_KEY]
    await console.feed.start()
    try:
        await console.actions.start()
    except BaseException:
        await console.feed.stop()
        raise
    yield
    await console.feed.stop()
    await console.actions.stop()
    if console.influx is not None:
        await console.influx.close()


def _board(settings: Settings, console: Console, *, fake_feed: bool) -> Board:
    if fake_feed:
        return Board(console.rules, console.feed)
    return KafkaBoard(settings, console.rules, console.feed)


async def _board_feed(app: web.Application) -> AsyncIterator[None]:
    """The board starts after the alert feed (which makes sure the topics exist) and stops before it."""
    board = app[BOARD_KEY]
    await board.start()
    yield
    await board.stop()


async def _end_streams(app: web.Application) -> None:
    app[CONSOLE_KEY].feed.close_subscribers()
    app[BOARD_KEY].close_subscribers()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


async def healthz(request: web.Request) -> web.Response:
    """Anonymous: whether the console is up and has read the alert history and the board's event
    history (no patient data)."""
    return web.json_response(
        {"status": "ok", "feed": request.app[CONSOLE_KEY].feed.status, "board": request.app[BOARD_KEY].status}
    )


async def login_get(request: web.Request) -> web.Response:
    if request.app[access.AUTH_KEY].user_of(request.cookies.get(auth.COOKIE)) is not None:
        raise web.HTTPSeeOther("/")
    return _html(login_page(error="error" in request.query, sso=SSO_KEY in request.app))


async def index(request: web.Request) -> web.Response:
    role = access.role(request)
    return _html(console_page(access.nurse(request), role, roles.allowed_actions(role)))


async def board_get(request: web.Request) -> web.Response:
    return _html(board_page(access.nurse(request), access.role(request)))


async def limits_get(request: web.Request) -> web.Response:
    """The patient's limits and snoozes page (issue 16)."""
    patient_id = request.match_info["patient_id"]
    if not PSEUDONYM.fullmatch(patient_id):
        raise web.HTTPNotFound(text="no such patient")
    return _html(limits_page(access.nurse(request), patient_id, access.role(request)))


async def session_get(request: web.Request) -> web.Response:
    session_id = request.match_info["session_id"]
    if not PSEUDONYM.fullmatch(session_id):
        raise web.HTTPNotFound(text="no such session")
    book = request.app[CONSOLE_KEY].feed.book
    entries = [*book.open.values(), *book.resolved.values()]
    patients = [e.alert.patient_id for e in entries if e.alert.session_id == session_id]
    await audit_log.viewed(request, patients, "session page", session_id)  # the data: "session data"
    return _html(session_page(access.nurse(request), session_id, access.role(request)))


@contextlib.asynccontextmanager
async def running_console(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    ready_timeout: float = 30.0,
    **parts: Any,
) -> AsyncIterator[str]:
    """Serve the console in this event loop; yields its base URL (http://host:port) once the alert
    history has been read (or `ready_timeout` has passed). `port=0` picks a free port."""
    app = create_console_app(settings, bind_host=host, **parts)
    runner = web.AppRunner(app, access_log_format='%a %t "%r" %s %b %Tf')
    await runner.setup()
    try:
        url = await start_site(
            runner, host or settings.console_host, settings.console_port if port is None else port
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ready_timeout):
                await app[CONSOLE_KEY].feed.caught_up.wait()
            async with asyncio.timeout(ready_timeout):
                await app[BOARD_KEY].caught_up.wait()
        yield url
    finally:
        await runner.cleanup()
