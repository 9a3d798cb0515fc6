"""The pager bridge's agent, driven with Faust's test_context: the webhook and sleeps are fakes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust
import pytest

from agents.pager_agent import PagerRuntime
from models.alerts import Alert
from models.deadletter import DeadLetter
from streams.apps.worker_app import Role, create_app
from streams.infra.settings import Settings
from streams.infra.sinks.pager.webhook_client import Response
from tests.agents.conftest import RecordingTopic


class Webhook:
    def __init__(self) -> None:
        self.answers: dict[str, list[int]] = {}  # alert_id -> statuses to answer in turn (then 200)
        self.pages: list[dict[str, object]] = []  # the bodies answered 2xx
        self.calls = 0
        self.slept: list[float] = []

    async def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        self.calls += 1
        page = json.loads(body)
        assert headers["Idempotency-Key"] == page["idempotency_key"]
        script = self.answers.get(page["alert"]["alert_id"], [])
        status = script.pop(0) if script else 200
        if status < 300:
            self.pages.append(page)
        return Response(status)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def webhook() -> Webhook:
    return Webhook()


@pytest.fixture
async def pager_app(tmp_path: Path, webhook: Webhook) -> faust.App:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
        pager_webhook_url="http://127.0.0.1:1/page",
        pager_max_attempts=3,
    )
    app = create_app(Role.PAGER, settings, store="memory://")
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    runtime: PagerRuntime = app.runtime  # type: ignore[attr-defined]
    runtime.sink.post, runtime.sink.sleep = webhook.post, webhook.sleep
    runtime.deadletter_topic = RecordingTopic()
    return app


def message(alert_id: str, status: str = "firing", severity: str = "urgent", level: int = 0) -> bytes:
    patient = alert_id.split("-s1:")[0]
    return json.dumps(
        {
            "alert_id": alert_id,
            "patient_id": patient,
            "session_id": f"{patient}-s1",
            "status": status,
            "severity": severity,
            "condition": alert_id.split(":")[1],
            "ts": datetime.now(UTC).isoformat(),
            "escalation_level": level,
            "title": "t",
            "evidence": {"summary": "s", "phase": "infusing"},
            "action": "a",
            "rule": {"id": "r", "version": "1"},
            "page": status in ("firing", "escalated"),
        }
    ).encode()


def pager_agent(app: faust.App) -> faust.types.AgentT:
    return next(a for a in app.agents.values() if a.name.endswith("page_alerts"))


async def test_pages_new_and_escalated_urgent_alerts_once(pager_app: faust.App, webhook: Webhook) -> None:
    async with pager_agent(pager_app).test_context() as ctx:
        await ctx.put(message("pt-1-s1:fever:1"), key=b"pt-1")
        await ctx.put(message("pt-1-s1:fever:1"), key=b"pt-1")  # the rules worker sent it twice
        await ctx.put(message("pt-1-s1:hypotension:1", severity="warning"), key=b"pt-1")
        await ctx.put(message("pt-1-s1:fever:1", "acknowledged"), key=b"pt-1")
        await ctx.put(message("pt-2-s1:anaphylaxis:1", severity="critical"), key=b"pt-2")
        await ctx.put(message("pt-2-s1:anaphylaxis:1", "escalated", "critical", 1), key=b"pt-2")
    assert [(p["alert"]["alert_id"], p["alert"]["status"]) for p in webhook.pages] == [  # type: ignore[index]
        ("pt-1-s1:fever:1", "firing"),
        ("pt-2-s1:anaphylaxis:1", "firing"),
        ("pt-2-s1:anaphylaxis:1", "escalated"),
    ]
    runtime: PagerRuntime = pager_app.runtime  # type: ignore[attr-defined]
    assert set(runtime.delivered("pt-2")) == {
        "pt-2-s1:anaphylaxis:1|firing|0|critical",
        "pt-2-s1:anaphylaxis:1|escalated|1|critical",
    }
    assert runtime.counts == {
        "alerts": 6,
        "paged": 3,
        "skipped": 3,
        "retries": 0,
        "deadletter": 0,
        "fallback": 0,
    }


async def test_retries_then_dead_letters_and_the_agent_carries_on(
    pager_app: faust.App, webhook: Webhook
) -> None:
    webhook.answers = {
        "pt-1-s1:fever:1": [503, 502],
        "pt-2-s1:fever:1": [500, 500, 500],
        "pt-3-s1:fever:1": [400],
    }
    async with pager_agent(pager_app).test_context() as ctx:
        for patient in ("pt-1", "pt-2", "pt-3"):
            await ctx.put(message(f"{patient}-s1:fever:1"), key=patient.encode())
        await ctx.put(b"{not an alert", key=b"pt-4")
        await ctx.put(message("pt-5-s1:fever:1"), key=b"pt-5")
    assert [p["alert"]["alert_id"] for p in webhook.pages] == ["pt-1-s1:fever:1", "pt-5-s1:fever:1"]  # type: ignore[index]
    assert webhook.slept == [0.5, 1, 0.5, 1]
    dead = [DeadLetter.model_validate_json(v) for _, v in pager_app.runtime.deadletter_topic.sent]  # type: ignore[attr-defined]
    assert [(d.stage, d.errors) for d in dead] == [
        ("page", ["(pager): not delivered after 3 attempts, last HTTP 500 [page_undelivered]"]),
        ("page", ["(pager): the webhook refused the page with HTTP 400 [page_refused]"]),
        ("page", ["(message): not valid JSON [json_invalid]"]),
    ]
    assert Alert.model_validate_json(dead[0].raw()).patient_id == "pt-2"
    assert (dead[1].source.topic, dead[1].source.offset) == ("ivig.alerts.v1", 2)
    assert pager_app.runtime.delivered("pt-2") == {}  # type: ignore[attr-defined]


async def test_an_old_alert_is_not_paged(pager_app: faust.App, webhook: Webhook) -> None:
    old = json.loads(message("pt-1-s1:fever:1"))
    old["ts"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    async with pager_agent(pager_app).test_context() as ctx:
        await ctx.put(json.dumps(old).encode(), key=b"pt-1")
    assert webhook.calls == 0


def test_the_pager_app_needs_a_webhook(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", pager_webhook_url=None)
    with pytest.raises(ValueError, match="IVIGWATCH_PAGER_WEBHOOK_URL is not set"):
        create_app(Role.PAGER, settings)
