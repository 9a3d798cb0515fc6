"""The patient app (issue 15 part 2): its static files under `/app/`, and the two reads it makes
with the app credential: `GET /v1/me` (today's infusion, the last readings, the phone numbers) and
`GET /v1/messages?after=N&wait=S` (its messages of `ivig.patient.v1`, a long poll). It sends
events through `POST /v1/events` like any device."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from models.credentials import Credential, CredentialKind
from streams.apps.gateway.patient_glance import PatientGlances
from streams.apps.gateway.patient_inbox import PatientInbox
from streams.infra.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
APP_FILES = {"": "app.html", "app.js": "app.js", "app.css": "app.css"}
LONGEST_WAIT_SECONDS = 25.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def app_routes(
    settings: Settings,
    inbox: PatientInbox,
    glances: PatientGlances,
    credential_of: Callable[[web.Request], Credential],
    session_of: Callable[[str], str | None],
    feed_ready: asyncio.Event,
) -> list[web.RouteDef]:
    """The app's routes; `credential_of` authenticates a request (401/429 raised)."""

    def app_credential(request: web.Request) -> Credential:
        credential = credential_of(request)
        if credential.kind is not CredentialKind.APP:
            raise web.HTTPForbidden(
                text='{"title": "Only the patient app reads its messages"}', content_type="application/json"
            )
        return credential

    async def static_file(request: web.Request) -> web.StreamResponse:
        name = APP_FILES.get(request.match_info.get("name", ""))
        if name is None:
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC_DIR / name, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    async def me(request: web.Request) -> web.Response:
        credential = app_credential(request)
        body: dict[str, Any] = {
            "patient_id": credential.patient_id,
            "session_id": session_of(credential.patient_id),
            **glances.view(credential.patient_id),
            "care_team_phone": settings.care_team_phone or None,
            "emergency_number": settings.emergency_number,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def messages(request: web.Request) -> web.Response:
        credential = app_credential(request)
        try:
            after = int(request.query.get("after", "0"))
            wait = min(float(request.query.get("wait", "0")), LONGEST_WAIT_SECONDS)
        except ValueError:
            raise web.HTTPBadRequest(
                text='{"title": "after and wait must be numbers"}', content_type="application/json"
            ) from None
        if not feed_ready.is_set():  # still reading the last hours back: numbering would be out of order
            try:
                async with asyncio.timeout(max(wait, 1.0)):
                    await feed_ready.wait()
            except TimeoutError:
                raise web.HTTPServiceUnavailable(
                    text='{"title": "The messages are being loaded; try again"}',
                    content_type="application/json",
                    headers={"Retry-After": "2"},
                ) from None
        if request.query.get("epoch", inbox.epoch) != inbox.epoch:
            after = 0  # numbered before the gateway restarted: everything kept is new to it
        found = await inbox.wait(credential.patient_id, after, max(wait, 0.0))
        return web.json_response(
            {
                "messages": [{"seq": n, "message": m.model_dump(mode="json")} for n, m in found],
                "next": found[-1][0] if found else max(after, 0),
                "epoch": inbox.epoch,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def to_app(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/app/")

    return [
        web.get("/app", to_app),
        web.get("/app/", static_file),
        web.get("/app/{name}", static_file),
        web.get("/v1/me", me),
        web.get("/v1/messages", messages),
    ]
