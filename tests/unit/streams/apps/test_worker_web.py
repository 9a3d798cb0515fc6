"""A worker's web server serves /healthz and /metrics and nothing of Faust's own: no /router, /table, /graph,
statistics, /performance, nor the index at /."""

from __future__ import annotations

from pathlib import Path

import pytest
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
