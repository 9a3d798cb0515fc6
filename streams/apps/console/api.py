"""The console's JSON API and SSE stream: /api/alerts, /api/stream, nurse actions, /api/sessions/{id},
/api/audit (admins).

The handlers share one `Console` (feed, action sink, session loader, rules) stored on the app. Every
answer holding a patient's data is written to the audit log (`audit_log.viewed`), one record per patient.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web
from pydantic import ValidationError

from agents.rules.incidents import is_incident_id
from models.events import NurseAction, Outcome
from models.ruleset import RuleSet
from streams.apps.console import access, audit_log
from streams.apps.console.action_sender import ActionNotSent, ActionSink
from streams.apps.console.feed import Feed, Subscriber
from streams.apps.console.roles import Action
from streams.apps.sessions import PSEUDONYM, SessionNotFound, SessionRecord, load_session
from streams.infra.metrics.web_metrics import CONSOLE_ACTIONS, CONSOLE_OPEN_STREAMS
from streams.infra.settings import Settings
from streams.infra.sinks.audit.audit_file import read_records
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
ACTION_KINDS = ("ack", "resolve", "note", "handover")
BODY_FIELDS = ("note", "to", "outcome", "action_taken")
"""The text fields an action's JSON body may carry (a note; a handover's `to`; a resolution's
`outcome` and `action_taken`, contract v2)."""
OUTCOMES = ", ".join(o.value for o in Outcome)

SessionLoader = Callable[[str], Awaitable[SessionRecord]]


class Console:
    """What the handlers share: the feed, the action sink, the session loader and the rules."""

    def __init__(
        self,
        settings: Settings,
        feed: Feed,
        actions: ActionSink,
        sessions: SessionLoader | None,
        rules: RuleSet,
    ) -> None:
        self.settings = settings
        self.feed = feed
        self.actions = actions
        self.rules = rules
        self.influx: InfluxClient | None = None
        self.sessions = sessions or self._load_from_influx

    async def _load_from_influx(self, session_id: str) -> SessionRecord:
        if self.influx is None:
            self.influx = InfluxClient(self.settings, role="reader")
        return await load_session(self.influx, session_id)


CONSOLE_KEY = web.AppKey("console", Console)


async def api_alerts(request: web.Request) -> web.Response:
    snapshot = request.app[CONSOLE_KEY].feed.book.snapshot()
    await audit_log.viewed(request, audit_log.patients_shown(snapshot), "alert list")
    return web.json_response(snapshot)


def _sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


async def api_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `snapshot` on connect, then `alert` with one AlertView per change. When its
    session ends (logout, expiry; a Basic-auth stream after one session's length) the stream sends
    `end` {"reason": "logged_out" | "expired"} and closes."""
    feed = request.app[CONSOLE_KEY].feed
    return await sse_stream(request, feed.subscribe, feed.unsubscribe, "alert", "alert stream")


async def sse_stream(
    request: web.Request,
    subscribe: Callable[[], tuple[Subscriber, dict[str, Any]]],
    unsubscribe: Callable[[Subscriber], None],
    event: str,
    what: str,
) -> web.StreamResponse:
    """A stream of server-sent events: `snapshot` on connect, then `event` with each text the
    subscriber is given, until its session ends (`end`, as /api/stream) or the source drops it. The
    audit log gets each patient the stream shows, once per connection, as `what`."""
    authenticator = request.app[access.AUTH_KEY]
    session = access.session_of(request)
    ends = session.ends if session is not None else authenticator.clock() + authenticator.session_seconds
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    subscriber, snapshot = subscribe()
    CONSOLE_OPEN_STREAMS.inc()
    seen = set(audit_log.patients_shown(snapshot))
    await audit_log.viewed(request, seen, what)

    async def audit(text: str) -> None:  # each patient this stream shows that it had not shown yet
        new = [patient for patient in audit_log.patients_shown(json.loads(text)) if patient not in seen]
        if new:
            seen.update(new)
            await audit_log.viewed(request, new, what)

    logged_out = asyncio.Event()

    def end() -> None:
        logged_out.set()
        with contextlib.suppress(asyncio.QueueFull):
            subscriber.queue.put_nowait(None)  # wakes the relay

    unwatch = authenticator.watch(session.nonce, end) if session is not None else (lambda: None)
    try:
        await response.write(
            b"retry: 2000\n\n" + _sse("snapshot", json.dumps(snapshot, separators=(",", ":")))
        )
        seconds_left = lambda: ends - authenticator.clock()  # noqa: E731
        reason = await _relay(response, subscriber, logged_out, seconds_left, event, audit)
        if reason is not None:  # the page stops following and goes to the login form
            await response.write(_sse("end", json.dumps({"reason": reason})))
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the browser went away (or the server stops)
    finally:
        unwatch()
        unsubscribe(subscriber)
        CONSOLE_OPEN_STREAMS.dec()
    return response


async def _relay(
    response: web.StreamResponse,
    subscriber: Subscriber,
    logged_out: asyncio.Event,
    seconds_left: Callable[[], float],
    event: str,
    before_send: Callable[[str], Awaitable[None]],
) -> str | None:
    """Send the subscriber's alert views (or boards) until its session ends (returns why) or the feed drops it
    or stops (None: the browser reconnects)."""
    while not subscriber.dropped or not subscriber.queue.empty():
        if logged_out.is_set():
            return "logged_out"
        left = seconds_left()
        if left <= 0:
            return "expired"
        wait = min(KEEPALIVE_SECONDS, left)
        try:
            async with asyncio.timeout(wait):
                text = await subscriber.queue.get()
        except TimeoutError:
            if wait == KEEPALIVE_SECONDS:
                await response.write(b": keepalive\n\n")
            continue
        if logged_out.is_set():
            return "logged_out"
        if text is None:
            return None
        await before_send(text)
        await response.write(_sse(event, text))
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _fields_of(request: web.Request) -> dict[str, str]:
    """The body's text fields (`BODY_FIELDS`), stripped; empty ones left out."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='send JSON: {"note": "..."}') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='send a JSON object: {"note": "..."}')
    fields: dict[str, str] = {}
    for name in BODY_FIELDS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise web.HTTPBadRequest(text=f"{name} must be a string")
        if text := (value or "").strip():
            fields[name] = text
    return fields


def _missing(kind: str, alert_id: str, fields: dict[str, str], incident: bool) -> str | None:
    """What the action still needs, in words (None: nothing)."""
    if kind == "note" and "note" not in fields:
        return 'a note needs its text: {"note": "..."}'
    if kind == "handover" and not ("to" in fields and "note" in fields):
        return 'a handover needs the nurse taking over and a note: {"to": "LOGIN", "note": "..."}'
    if (
        kind == "resolve"
        and is_incident_id(alert_id)
        and not ("outcome" in fields and "action_taken" in fields)
    ):
        return (
            f"resolving an incident needs its outcome ({OUTCOMES}) and the action taken: "
            '{"outcome": "...", "action_taken": "..."}'
        )
    if kind == "handover" and not incident:
        return "only an acknowledged incident (or one of its alerts) can be handed over: acknowledge it first"
    return None


async def api_action(request: web.Request) -> web.Response:
    """POST /api/alerts/{alert_id}/ack|resolve|note|handover: produce the nurse's action; the alert
    changes on screen only when the lifecycle agent's message comes back on ivig.alerts.v1. `alert_id`
    may be an incident id (contract v2): the incident's own message is in the book under that id, and
    the rules act on the whole incident (ack: it and all its open alerts, and the nurse owns it;
    resolve: all of them, with the outcome and action taken; handover: a new owner)."""
    console = request.app[CONSOLE_KEY]
    kind = request.match_info["kind"]
    alert_id = request.match_info["alert_id"]
    if kind not in ACTION_KINDS:
        return web.json_response({"error": "use ack, resolve, note or handover"}, status=404)
    access.require(request, cast(Action, kind))  # one of ACTION_KINDS
    entry = console.feed.book.get(alert_id)
    if entry is None:
        return web.json_response({"error": "no such alert or incident"}, status=404)
    if not entry.is_open:
        return web.json_response({"error": "this alert is already resolved"}, status=409)
    fields = await _fields_of(request)
    incident = console.feed.book.get(entry.alert.incident_id or alert_id)
    acknowledged = incident is not None and incident.alert.status.value == "acknowledged"
    if (problem := _missing(kind, alert_id, fields, acknowledged)) is not None:
        return web.json_response({"error": problem}, status=400)
    owner = incident.alert.owner if incident is not None else None
    if kind == "handover" and owner not in (None, access.nurse(request)) and not can_reassign(request):
        return web.json_response(
            {"error": f"only its owner ({owner}), a charge nurse or an admin may hand this incident over"},
            status=403,
        )
    kept = {
        "note",
        *(("outcome", "action_taken") if kind == "resolve" else ()),
        *(("to",) if kind == "handover" else ()),
    }
    fields = {name: value for name, value in fields.items() if name in kept}
    try:
        action = NurseAction.model_validate(
            {
                "type": kind,
                "alert_id": alert_id,
                "patient_id": entry.alert.patient_id,
                "by": access.nurse(request),
                "ts": _now(),
                **fields,
            }
        )
    except ValidationError as exc:
        wrong = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        return web.json_response({"error": f"invalid action ({wrong})"}, status=400)
    try:
        await console.actions.send(action)
    except ActionNotSent as exc:
        CONSOLE_ACTIONS.labels(kind=kind, outcome="unsent").inc()
        return web.json_response({"error": str(exc)}, status=503)
    CONSOLE_ACTIONS.labels(kind=kind, outcome="sent").inc()
    log.info("%s sent %s on alert %s", action.by, action.type, action.alert_id)
    return web.json_response({"action": action.model_dump(mode="json", exclude_none=True)}, status=202)


def can_reassign(request: web.Request) -> bool:
    """Charge nurses and admins may hand over anyone's incident (they set limits and snoozes too)."""
    return access.role(request) in ("charge_nurse", "admin")


async def api_session(request: web.Request) -> web.Response:
    console = request.app[CONSOLE_KEY]
    session_id = request.match_info["session_id"]
    if not PSEUDONYM.fullmatch(session_id):
        return web.json_response({"error": "not a valid session id"}, status=400)
    try:
        record = await console.sessions(session_id)
    except SessionNotFound:
        return web.json_response({"error": "no such session stored yet"}, status=404)
    except InfluxUnavailable:
        return web.json_response({"error": "InfluxDB is unreachable"}, status=503)
    except RuntimeError:  # an InfluxQL error answer, e.g. no database yet
        return web.json_response({"error": "InfluxDB could not answer"}, status=502)
    from streams.apps.console.sessionview import (
        session_view,  # loads matplotlib (streams.apps.report): lazily
    )

    await audit_log.viewed(request, [record.patient_id], "session data", session_id)
    return web.json_response(session_view(record, console.rules))


def _time_filter(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name}: give an ISO 8601 time, e.g. 2026-12-07T08:00:00Z") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def api_audit(request: web.Request) -> web.Response:
    """GET /api/audit?user=&patient=&since=&until=&limit= (admins): the audit records matching, newest
    last; `limit` (default 1000) keeps the newest."""
    access.require(request, "audit_query")
    try:
        limit = int(request.query.get("limit", "1000"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit: give a whole number") from None
    path, query = request.app[audit_log.AUDIT_KEY].path, request.query
    since, until = _time_filter(request, "since"), _time_filter(request, "until")
    records = await asyncio.to_thread(
        lambda: list(
            read_records(
                path,
                user=query.get("user") or None,
                patient=query.get("patient") or None,
                since=since,
                until=until,
            )
        )
    )
    kept = records[-limit:] if limit > 0 else []
    return web.json_response({"records": [r.model_dump(mode="json") for r in kept], "matched": len(records)})
