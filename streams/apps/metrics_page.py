"""/metrics for the aiohttp servers (console, gateway, watchdog), and the middleware counting their
requests by route template (never the path: it may hold a session id) and status."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from streams.infra.metrics.scrape_access import CHALLENGE, FORWARDED_HEADERS, exposition, scrape_allowed
from streams.infra.metrics.web_metrics import HTTP_REQUESTS, HTTP_SECONDS
from streams.infra.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
METRICS_PATH = "/metrics"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other (a client may send any token) counts as `other`, so no
client can create series at will."""


def metrics_route(settings: Settings) -> tuple[str, str, Handler]:
    """(method, path, handler) of GET /metrics, for `router.add_route(*...)`."""

    async def metrics(request: web.Request) -> web.Response:
        forwarded = any(name in request.headers for name in FORWARDED_HEADERS)
        if not scrape_allowed(
            settings.metrics_token, request.headers.get("Authorization"), request.remote, forwarded
        ):
            return web.Response(
                status=401, text="scrape credential required\n", headers={"WWW-Authenticate": CHALLENGE}
            )
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    return "GET", METRICS_PATH, metrics


def route_of(request: web.Request) -> str:
    """The request's route template (`/sessions/{session_id}`), or `unmatched`."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def request_metrics(server: str) -> Middleware:
    """A middleware counting each request of `server` by route, method and status, and timing it
    (not a stream: its time is how long it stayed open)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        began, status = time.perf_counter(), 500
        streamed = False
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            status = exc.status
            raise
        else:
            status, streamed = response.status, not isinstance(response, web.Response)
            return response
        finally:
            route = route_of(request)
            method = request.method if request.method in KNOWN_METHODS else "other"
            HTTP_REQUESTS.labels(server=server, route=route, method=method, status=str(status)).inc()
            if not streamed:
                HTTP_SECONDS.labels(server=server, route=route).observe(time.perf_counter() - began)

    return middleware
