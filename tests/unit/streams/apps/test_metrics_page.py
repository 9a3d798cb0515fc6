"""/metrics of the aiohttp servers and the request counter: the scrape token, route templates only."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from streams.apps.metrics_page import metrics_route, request_metrics
from streams.infra.settings import Settings

TOKEN = "page-test-scrape-token-0123456789"


async def session_page(request: web.Request) -> web.Response:
    return web.Response(text=request.match_info["session_id"])


def app_with(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[request_metrics("test")])
    app.router.add_get("/sessions/{session_id}", session_page)
    app.router.add_route(*metrics_route(settings))
    return app


def requests_counted(route: str, status: str) -> float:
    labels = {"server": "test", "route": route, "method": "GET", "status": status}
    return REGISTRY.get_sample_value("ivigwatch_http_requests_total", labels) or 0.0


async def test_the_token_is_required_and_requests_are_counted_by_route_template() -> None:
    settings = Settings(metrics_token=SecretStr(TOKEN))
    async with TestClient(TestServer(app_with(settings))) as client:
        before = requests_counted("/sessions/{session_id}", "200")
        assert (await client.get("/sessions/pt-secret-7-s1")).status == 200
        refused = await client.get("/metrics")
        assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 401
        answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status == 200
        text = await answer.text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "ivigwatch_http_requests" in families
    assert requests_counted("/sessions/{session_id}", "200") == before + 1
    assert requests_counted("/metrics", "401") >= 2
    assert "pt-secret-7" not in text  # the path's id never becomes a label


async def test_made_up_methods_and_paths_create_no_series() -> None:
    async with TestClient(TestServer(app_with(Settings()))) as client:
        for n, method in enumerate(("PROPFIND", "MKCOL", "PURGE")):  # methods HTTP parsers know
            await client.request(method, f"/no/such/page-{n}")
    labels = {"server": "test", "route": "unmatched", "method": "other", "status": "404"}
    assert REGISTRY.get_sample_value("ivigwatch_http_requests_total", labels) == 3
    body = "".join(f"{s.labels}" for m in REGISTRY.collect() for s in m.samples)
    assert "PROPFIND" not in body and "page-" not in body


async def test_without_a_token_a_loopback_client_may_scrape_unless_forwarded() -> None:
    async with TestClient(TestServer(app_with(Settings()), host="127.0.0.1")) as client:
        assert (await client.get("/metrics")).status == 200
        forwarded = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.status == 401
