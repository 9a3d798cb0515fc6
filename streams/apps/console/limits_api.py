"""The console's per-patient limits and snoozes (issue 16): GET /api/patients/{id}/settings, and
POST /api/patients/{id}/limit|snooze, checked against the rule file before the action is sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from agents.rules.patient_limits import problems
from models.events import NurseAction
from streams.apps.console import access, audit_log
from streams.apps.console.action_sender import ActionNotSent
from streams.apps.console.api import CONSOLE_KEY
from streams.apps.console.patient_settings import SettingActions, form_options
from streams.apps.sessions import PSEUDONYM
from streams.infra.metrics.web_metrics import CONSOLE_ACTIONS

log = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("patient_settings", SettingActions)
SETTING_FIELDS = {
    "limit": ("vital", "side", "value", "reason", "clear"),
    "snooze": ("condition", "rule", "reason", "clear"),
}


def _patient(request: web.Request) -> str:
    patient_id = request.match_info["patient_id"]
    if not PSEUDONYM.fullmatch(patient_id):
        raise web.HTTPBadRequest(text="not a valid patient id")
    return patient_id


async def api_settings(request: web.Request) -> web.Response:
    """The patient's limits and snoozes in force now, and what the forms may offer."""
    patient_id = _patient(request)
    rules = request.app[CONSOLE_KEY].rules
    now = datetime.now(UTC)
    await audit_log.viewed(request, [patient_id], "patient limits")
    return web.json_response(
        {
            "patient_id": patient_id,
            **request.app[SETTINGS_KEY].in_force(patient_id, now, rules),
            "options": form_options(rules),
        }
    )


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="send a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="send a JSON object")
    return body


def _until(body: dict[str, Any], now: datetime) -> str | None:
    """The expiry: `hours` from now (what the form asks), or an RFC 3339 `until`."""
    hours = body.get("hours")
    if hours is None or hours == "":
        until = body.get("until")
        return until if isinstance(until, str) else None
    try:
        return (now + timedelta(hours=float(hours))).isoformat()
    except (TypeError, ValueError, OverflowError):
        raise web.HTTPBadRequest(text="hours must be a number") from None


async def api_set(request: web.Request) -> web.Response:
    """POST a limit or snooze for the patient: refused (422, the reasons) when the rule file does not
    allow it, else produced to ivig.actions.v1 (202); the rule worker applies it to the next reading."""
    patient_id = _patient(request)
    kind = request.match_info["kind"]
    if kind not in SETTING_FIELDS:
        return web.json_response({"error": "use limit or snooze"}, status=404)
    access.require(request, "limit" if kind == "limit" else "snooze")
    console = request.app[CONSOLE_KEY]
    body = await _body(request)
    now = datetime.now(UTC)
    setting = {k: body[k] for k in SETTING_FIELDS[kind] if body.get(k) not in (None, "")}
    if not setting.get("clear"):
        setting["until"] = _until(body, now)
    try:
        action = NurseAction.model_validate(
            {"type": kind, "patient_id": patient_id, "by": access.nurse(request), "ts": now, kind: setting}
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        words = "; ".join(str(e["msg"]) for e in exc.errors() if e["type"] == "value_error")
        error = f"invalid {kind} ({fields})" + (f": {words}" if words else "")
        return web.json_response({"error": error}, status=400)
    if errors := problems(action, console.rules):
        return web.json_response({"error": "; ".join(errors)}, status=422)
    try:
        await console.actions.send(action)
    except ActionNotSent as exc:
        CONSOLE_ACTIONS.labels(kind=kind, outcome="unsent").inc()
        return web.json_response({"error": str(exc)}, status=503)
    CONSOLE_ACTIONS.labels(kind=kind, outcome="sent").inc()
    log.info("%s sent %s for a patient", action.by, action.type)
    return web.json_response({"action": action.model_dump(mode="json", exclude_none=True)}, status=202)
