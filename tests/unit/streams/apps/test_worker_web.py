"""A worker's web server serves /healthz and /metrics and nothing of Faust's own: no /router, /table,
/graph, statistics, /performance, nor the index at /; /metrics needs the scrape token and reads the
consumer lag of the partitions its agents read."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from faust.types import TP
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from streams.apps.worker_app import Role, consumer_lags, create_app
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


class FakeConsumer:
    """Four assigned partitions: two of the events topic, one of the actions topic, one changelog."""

    def __init__(self) -> None:
        self.assigned = {
            TP("ivig.events.v1", 0),
            TP("ivig.events.v1", 1),
            TP("ivig.actions.v1", 0),
            TP("ivigwatch-rules-patient-state-changelog", 0),
        }
        self._committed_offset = {TP("ivig.events.v1", 1): 40}
        self.ends = dict.fromkeys(self.assigned, 50)

    def assignment(self) -> set[TP]:
        return self.assigned

    def highwater(self, tp: TP) -> int:
        return self.ends[tp]

    async def position(self, tp: TP) -> int:
        return 45


async def test_consumer_lag_reads_the_rules_position_then_the_commit_then_the_fetch_position() -> None:
    consumer = FakeConsumer()
    app = SimpleNamespace(
        consumer=consumer,
        rebalancing=False,
        runtime=SimpleNamespace(positions={0: 48}),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: not topic.endswith("-changelog")),
    )
    lags = await consumer_lags(app)  # type: ignore[arg-type]
    assert sorted(lags) == [("ivig.actions.v1", 0, 5), ("ivig.events.v1", 0, 2), ("ivig.events.v1", 1, 10)]
    app.rebalancing = True
    assert await consumer_lags(app) == []  # type: ignore[arg-type]
