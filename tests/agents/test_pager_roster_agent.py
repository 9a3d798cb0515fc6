"""The pager bridge's agent with a roster (Faust's test_context; the channels' HTTP and sleeps are
fakes): each page to the person on call for its level, `notify` to one person, a gap or a failing
channel to the fallback with a system alert, dead letters only when even the fallback fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pytest

from agents.pager_agent import PagerRuntime
from models.alerts import Alert
from models.deadletter import DeadLetter
from streams.apps.worker_app import Role, create_app
from streams.infra.settings import Settings
from streams.infra.sinks.pager.channel_templates import ChannelRequest
from streams.infra.sinks.pager.webhook_client import Response
from tests.agents.conftest import RecordingTopic
from tests.roster_files import secrets_for, write_roster

BASE = "http://receiver.test"


class Receivers:
    """Every person's channel: answers 200 unless told otherwise for a person."""

    def __init__(self) -> None:
        self.answers: dict[str, int] = {}  # person -> status answered every time
        self.failing: dict[tuple[str, str], int] = {}  # (person, patient) -> status answered
        self.got: list[tuple[str, int, ChannelRequest]] = []

    async def http(self, request: ChannelRequest) -> Response:
        person = request.url.rpartition("/")[2]
        patient = request.headers["Idempotency-Key"].partition("-s1:")[0]
        status = self.failing.get((person, patient), self.answers.get(person, 200))
        self.got.append((person, status, request))
        return Response(status)

    async def sleep(self, seconds: float) -> None:
        return None

    def delivered(self) -> list[tuple[str, str]]:
        """(person, idempotency key) of each 2xx."""
        return [(p, r.headers["Idempotency-Key"]) for p, s, r in self.got if s < 300]


@pytest.fixture
def receivers() -> Receivers:
    return Receivers()


@pytest.fixture
async def roster_app(tmp_path: Path, receivers: Receivers) -> faust.App:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
        pager_roster_file=write_roster(tmp_path),
        pager_secrets=secrets_for(BASE),
        pager_max_attempts=2,
        pager_person_attempts=2,
    )
    app = create_app(Role.PAGER, settings, store="memory://")
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    runtime: PagerRuntime = app.runtime  # type: ignore[attr-defined]
    assert runtime.roster is not None and runtime.sink is None
    runtime.roster.sender.http, runtime.roster.sender.sleep = receivers.http, receivers.sleep
    runtime.roster.alerts_topic = RecordingTopic()
    runtime.deadletter_topic = RecordingTopic()
    return app


def message(
    patient: str, status: str = "firing", severity: str = "critical", level: int = 0, **more: Any
) -> bytes:
    return json.dumps(
        {
            "alert_id": f"{patient}-s1:anaphylaxis:1",
            "patient_id": patient,
            "session_id": f"{patient}-s1",
            "status": status,
            "severity": severity,
            "condition": "anaphylaxis",
            "ts": datetime.now(UTC).isoformat(),
            "escalation_level": level,
            "title": "t",
            "evidence": {"summary": "s", "phase": "infusing"},
            "action": "a",
            "rule": {"id": "r", "version": "1"},
            "page": status in ("firing", "escalated"),
            **more,
        }
    ).encode()


def agent(app: faust.App) -> faust.types.AgentT:
    return next(a for a in app.agents.values() if a.name.endswith("page_alerts"))


def system_alerts(app: faust.App) -> list[Alert]:
    return [Alert.model_validate_json(v) for _, v in app.runtime.roster.alerts_topic.sent]  # type: ignore[attr-defined]


async def test_each_level_reaches_its_person_once(roster_app: faust.App, receivers: Receivers) -> None:
    async with agent(roster_app).test_context() as ctx:
        await ctx.put(message("pt-1"), key=b"pt-1")
        await ctx.put(message("pt-1"), key=b"pt-1")  # sent twice by the rules worker
        await ctx.put(message("pt-1", "escalated", level=1), key=b"pt-1")
        await ctx.put(message("pt-2", severity="urgent", notify="rn-b"), key=b"pt-2")
    key = "pt-1-s1:anaphylaxis:1"
    *roster, (person, notified) = receivers.delivered()
    assert roster == [
        ("rn-a", f"{key}|firing|0|critical|rn-a"),
        ("rn-b", f"{key}|escalated|1|critical|rn-b"),
    ]
    # notify: that person only, once; a page to one person is keyed by whom and when too
    assert person == "rn-b" and notified.startswith("pt-2-s1:anaphylaxis:1|firing|0|urgent|rn-b|")
    assert notified.endswith("|rn-b")
    page = json.loads(receivers.got[0][2].body)
    assert page["recipient"]["id"] == "rn-a" and page["text"].endswith(
        "Paged: Nurse A (rn-a), on call as primary."
    )
    assert (
        receivers.got[1][2].body.decode().endswith("Paged: Nurse B (rn-b), on call as backup.")
    )  # ntfy text
    runtime: PagerRuntime = roster_app.runtime  # type: ignore[attr-defined]
    assert set(runtime.delivered("pt-1")) == {
        f"{key}|firing|0|critical|rn-a",
        f"{key}|escalated|1|critical|rn-b",
    }
    assert runtime.counts["paged"] == 3 and runtime.counts["fallback"] == 0
    assert system_alerts(roster_app) == []


async def test_a_gap_pages_the_fallback_and_raises_a_system_alert_until_acknowledged(
    roster_app: faust.App, receivers: Receivers
) -> None:
    async with agent(roster_app).test_context() as ctx:
        await ctx.put(message("pt-1", "escalated", "urgent", 2), key=b"pt-1")  # supervisor: nobody
        await ctx.put(message("pt-1", "acknowledged", "urgent", 2, by="rn-a"), key=b"pt-1")
    assert [p for p, _ in receivers.delivered()] == ["desk"]
    page = json.loads(receivers.got[0][2].body)
    assert page["recipient"]["fallback"] is True
    assert page["text"].startswith("FALLBACK URGENT ESCALATED")
    assert "because nobody is on call as supervisor (a gap in the roster)" in page["text"]
    fired, resolved = system_alerts(roster_app)
    assert (fired.alert_id, fired.status.value, fired.condition.value, fired.patient_id) == (
        "pt-1-s1:anaphylaxis:1:oncall_gap:2",
        "firing",
        "oncall_gap",
        "pt-1",
    )
    assert (
        fired.page and fired.severity.value == "urgent" and "desk was paged instead" in fired.evidence.summary
    )
    assert (resolved.alert_id, resolved.status.value) == (fired.alert_id, "resolved")
    assert "acknowledged by rn-a" in resolved.evidence.summary
    runtime: PagerRuntime = roster_app.runtime  # type: ignore[attr-defined]
    assert not [k for k in runtime.delivered("pt-1") if k.startswith("open|")]
    assert runtime.counts["fallback"] == 1 and runtime.counts["deadletter"] == 0


async def test_a_failing_channel_goes_to_the_fallback_and_dead_letters_only_if_that_fails_too(
    roster_app: faust.App, receivers: Receivers
) -> None:
    receivers.answers["rn-broken"] = 503
    async with agent(roster_app).test_context() as ctx:
        receivers.failing |= {("desk", "pt-2"): 500, ("desk", "pt-3"): 500}
        await ctx.put(message("pt-1", notify="rn-broken"), key=b"pt-1")
        await ctx.put(message("pt-2", notify="rn-broken"), key=b"pt-2")
        await ctx.put(message("pt-3", notify="rn-nobody"), key=b"pt-3")
    async with agent(roster_app).test_context() as ctx:
        await ctx.put(
            system_alerts(roster_app)[0].model_dump_json().encode(), key=b"pt-1"
        )  # its own: not paged
    assert [(p, s) for p, s, _ in receivers.got] == [
        ("rn-broken", 503),
        ("rn-broken", 503),  # pager_person_attempts = 2
        ("desk", 200),
        ("rn-broken", 503),
        ("rn-broken", 503),
        ("desk", 500),
        ("desk", 500),
        ("desk", 500),  # rn-nobody: no one to try, the fallback at once
        ("desk", 500),
    ]
    runtime: PagerRuntime = roster_app.runtime  # type: ignore[attr-defined]
    assert runtime.counts["skipped"] == 1 and len(system_alerts(roster_app)) == 3
    undelivered, nobody_either, unknown = system_alerts(roster_app)
    assert undelivered.condition.value == "page_undelivered" and undelivered.evidence.values == {
        "fallback_reached": 1.0
    }
    assert "the page to rn-broken failed (webhook (pager): not delivered after 2 attempts, last HTTP 503" in (
        undelivered.evidence.summary
    )
    assert nobody_either.evidence.values == {"fallback_reached": 0.0}
    assert (
        unknown.condition.value == "oncall_gap"
        and "rn-nobody, who is not in the roster" in unknown.evidence.summary
    )
    dead = [DeadLetter.model_validate_json(v) for _, v in roster_app.runtime.deadletter_topic.sent]  # type: ignore[attr-defined]
    assert [Alert.model_validate_json(d.raw()).patient_id for d in dead] == ["pt-2", "pt-3"]
    assert (
        dead[0]
        .errors[0]
        .endswith(
            "the fallback contact desk could not be paged either (webhook (pager): "
            "not delivered after 2 attempts, last HTTP 500 [page_undelivered]) [page_undelivered]"
        )
    )


def test_the_pager_refuses_to_start_without_the_roster_secrets(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
        pager_roster_file=write_roster(tmp_path),
        pager_secrets={"rn-a-url": "http://x/a"},
    )
    with pytest.raises(
        ValueError, match="need the secrets desk-url, rn-b-url, rn-broken-url in IVIGWATCH_PAGER_SECRETS"
    ):
        create_app(Role.PAGER, settings)


async def test_a_nurse_acknowledging_the_system_alert_resolves_it(
    roster_app: faust.App, receivers: Receivers
) -> None:
    async with agent(roster_app).test_context() as ctx:
        await ctx.put(message("pt-1", "escalated", "urgent", 2), key=b"pt-1")  # a gap: the fallback
    fired = system_alerts(roster_app)[0]
    actions = next(a for a in roster_app.agents.values() if a.name.endswith("pager_actions"))
    ack = {
        "type": "ack",
        "alert_id": fired.alert_id,
        "patient_id": "pt-1",
        "by": "rn-a",
        "ts": datetime.now(UTC).isoformat(),
    }
    async with actions.test_context() as ctx:
        await ctx.put(b"{not an action", key=b"pt-1")  # the rules worker's to dead-letter, not ours
        await ctx.put(json.dumps({**ack, "alert_id": "pt-1-s1:fever:1"}).encode(), key=b"pt-1")  # not ours
        await ctx.put(json.dumps(ack).encode(), key=b"pt-1")
        await ctx.put(json.dumps(ack).encode(), key=b"pt-1")  # twice: resolved once
    resolved = system_alerts(roster_app)[1:]
    assert [(a.alert_id, a.status.value, a.by, a.session_id) for a in resolved] == [
        (fired.alert_id, "resolved", "rn-a", "pt-1-s1")
    ]
    assert resolved[0].evidence.summary == "rn-a took it in hand (acknowledged)."
    runtime: PagerRuntime = roster_app.runtime  # type: ignore[attr-defined]
    assert not [k for k in runtime.delivered("pt-1") if k.startswith("open|")]
    assert runtime.deadletter_topic.sent == []  # type: ignore[attr-defined]
