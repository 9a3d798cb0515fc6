"""A worker's web server serves /healthz and /metrics and nothing of Faust's own: no /router, /table, /graph,
statistics, /performance, nor the index at /."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from streams.apps.worker_app import Role, create_app
from streams.infra.settings import Settings


@pytest.mark.parametrize("role", list(Role))
def test_healthz_and_metrics_are_the_only_pages(tmp_path: Path, role: Role) -> None:
    settings = Settings(
        state_dir=tmp_path,
        local_secure=False,
        pager_webhook_url=SecretStr("https://pager.invalid/hook"),
    )
    app = create_app(role, settings)
    app.web.init_server()  # what the worker does before it serves: applies the blueprints
    paths = {route.resource.canonical for route in app.web.web_app.router.routes() if route.resource}
    assert paths == {"/healthz", "/metrics"}


@pytest.mark.parametrize("role", [Role.RULES, Role.WRITER])
async def test_metrics_need_the_scrape_token(tmp_path: Path, role: Role) -> None:
    token = "worker-web-scrape-token-0123456789"
    settings = Settings(state_dir=tmp_path, local_secure=False, metrics_token=SecretStr(token))
    app = create_app(role, settings)
    app.web.init_server()
    async with TestClient(TestServer(app.web.web_app)) as client:
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
        answer = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 200
        names = {f.name for f in text_string_to_metric_families(await answer.text())}
    assert {"ivigwatch_dead_letters", "ivigwatch_consumer_lag"} <= names
