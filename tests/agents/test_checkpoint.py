"""The rules worker's checkpoints: a changed state is stored once per checkpoint, only after the
messages it caused were acknowledged, and only then are its records acked (their offsets
committable)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import faust
import pytest

from agents import runtime as runtime_module
from models.state import PatientState
from streams.apps.worker_app import Role, create_app
from streams.infra.settings import Settings
from tests.agents.conftest import RecordingTopic
from tests.agents.test_events_agent import agent, alerts_sent, event


class HeldTopic:
    """A topic whose deliveries stay unacknowledged until the test settles them."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.futures: list[asyncio.Future[None]] = []

    async def send(self, key: bytes | None = None, value: bytes = b"", **_: Any) -> asyncio.Future[None]:
        self.sent.append((key, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.futures.append(fut)
        return fut


def stored(app: faust.App, patient: str) -> PatientState | None:
    raw = app.runtime.table.get(patient.encode())  # type: ignore[attr-defined]
    return None if raw is None else PatientState.model_validate_json(raw)


async def test_states_are_stored_and_records_acked_at_the_checkpoint(rules_app: faust.App) -> None:
    runtime = rules_app.runtime  # type: ignore[attr-defined]
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event(0, type="infusion", action="start", rate_ml_per_h=50), key=b"pt-1")
        await ctx.put(event(1, type="vitals", spo2=97, heart_rate=72), key=b"pt-1")
        await ctx.put(event(2, type="vitals", spo2=96, heart_rate=73), key=b"pt-1")
        assert stored(rules_app, "pt-1") is None  # nothing stored before the checkpoint
        assert runtime.dirty == {"pt-1": 0}
        held = list(runtime.held)
        assert len(held) == 3 and not any(r.event.message.acked for r in held)
        await runtime.checkpoint()
    state = stored(rules_app, "pt-1")
    assert state is not None and len(state.sessions["s1"].readings) == 2  # one write, both readings
    assert state == runtime.live["pt-1"]
    assert runtime.dirty == {} and runtime.held == []
    assert all(r.event.message.acked for r in held)


async def _a_reaction(ctx: Any) -> None:
    """A start, then a severe throat tightness: an alert to deliver."""
    await ctx.put(event(0, type="infusion", action="start", rate_ml_per_h=50), key=b"pt-1")
    await ctx.put(event(1, type="symptom", symptom="throat_tightness", severity="severe"), key=b"pt-1")


async def test_a_checkpoint_waits_for_the_alerts_before_it_stores_the_state(rules_app: faust.App) -> None:
    runtime = rules_app.runtime  # type: ignore[attr-defined]
    runtime.alerts_topic = topic = HeldTopic()
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await _a_reaction(ctx)
        assert topic.futures, "the reaction's alert was handed to the producer at once"
        checkpoint = asyncio.ensure_future(runtime.checkpoint())
        await asyncio.sleep(0)  # one turn of the loop: the checkpoint runs up to its wait
        assert runtime.pending == [], "the checkpoint took the deliveries to wait for"
        assert not checkpoint.done() and stored(rules_app, "pt-1") is None
        held = list(runtime.held)
        assert held and not any(r.event.message.acked for r in held)
        for fut in topic.futures:
            fut.set_result(None)
        await asyncio.wait_for(checkpoint, 5)
    assert stored(rules_app, "pt-1") is not None
    assert all(r.event.message.acked for r in held)


async def test_a_failed_delivery_stores_nothing_and_acks_nothing(rules_app: faust.App) -> None:
    runtime = rules_app.runtime  # type: ignore[attr-defined]
    runtime.alerts_topic = topic = HeldTopic()
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await _a_reaction(ctx)
        held = list(runtime.held)
        for fut in topic.futures:
            fut.set_exception(RuntimeError("broker gone"))
        with pytest.raises(RuntimeError):
            await runtime.checkpoint()
    assert stored(rules_app, "pt-1") is None
    assert not any(r.event.message.acked for r in held)


async def test_a_rule_failure_redoes_the_records_since_the_checkpoint(
    rules_app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The half-changed state is dropped, and the patient's earlier records not stored yet are
    applied again to the stored state: the hives reported before the failure still count."""
    runtime = rules_app.runtime  # type: ignore[attr-defined]
    real = runtime_module.process

    def failing_on_nausea(state: Any, item: Any, now: Any, rules: Any) -> Any:
        alerts = real(state, item, now, rules)
        if getattr(item, "symptom", None) is not None and item.symptom.value == "nausea":
            raise KeyError("half way")
        return alerts

    monkeypatch.setattr(runtime_module, "process", failing_on_nausea)
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event(0, type="infusion", action="start", rate_ml_per_h=50), key=b"pt-1")
        await runtime.checkpoint()
        await ctx.put(event(1, type="symptom", symptom="hives", severity="moderate"), key=b"pt-1")
        await ctx.put(event(2, type="symptom", symptom="nausea", severity="mild"), key=b"pt-1")
        state = runtime.live["pt-1"]
        assert [s.symptom.value for s in state.sessions["s1"].symptoms] == ["hives"]
        await ctx.put(event(3, type="symptom", symptom="throat_tightness", severity="severe"), key=b"pt-1")
    conditions = [a.condition.value for a in alerts_sent(rules_app) if a.condition.value != "incident"]
    assert "anaphylaxis" in conditions  # hives (redone) with throat tightness
    dead = [json.loads(v)["stage"] for _, v in runtime.deadletter_topic.sent]
    assert dead == ["rules"]


def _restarted(settings: Settings, table_data: dict[Any, Any]) -> faust.App:
    """A new rules worker whose table recovered what the crashed one stored (its changelog)."""
    app = create_app(Role.RULES, settings, store="memory://")
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    runtime = app.runtime  # type: ignore[attr-defined]
    runtime.alerts_topic, runtime.deadletter_topic = RecordingTopic(), RecordingTopic()
    runtime.patient_topic = RecordingTopic()
    runtime.table.use_partitioner = False
    runtime.table.data.update(table_data)
    return app


@pytest.mark.parametrize("with_ids", [True, False])
async def test_a_crash_between_a_checkpoint_and_its_commit_loses_no_alert(
    rules_app: faust.App, settings: Settings, with_ids: bool
) -> None:
    """The checkpoint stored the states and acked the records, then the worker died before Faust
    committed their offsets: the next worker reads the same records again onto the stored states.
    Nothing is lost; what comes again comes with the same alert ids (or, with event ids, not at all)."""
    lines = [
        event(0, type="infusion", action="start", rate_ml_per_h=50),
        event(1, type="symptom", symptom="hives", severity="moderate"),
        event(2, type="symptom", symptom="throat_tightness", severity="severe"),
    ]
    if with_ids:
        lines = [
            json.dumps({**json.loads(line), "event_id": f"e{n}"}).encode() for n, line in enumerate(lines)
        ]
    async with agent(rules_app, "watch_events").test_context() as ctx:
        for line in lines:
            await ctx.put(line, key=b"pt-1")
        await rules_app.runtime.checkpoint()  # type: ignore[attr-defined]
    first = alerts_sent(rules_app)
    assert "anaphylaxis" in {a.condition.value for a in first}
    again = _restarted(settings, dict(rules_app.runtime.table.data))  # type: ignore[attr-defined]
    async with agent(again, "watch_events").test_context() as ctx:
        for line in lines:  # redelivered from the last committed offset
            await ctx.put(line, key=b"pt-1")
    repeated = alerts_sent(again)
    assert {a.alert_id for a in repeated} <= {a.alert_id for a in first}
    if with_ids:
        assert repeated == []
    state = again.runtime.live["pt-1"]  # type: ignore[attr-defined]
    assert "anaphylaxis" in state.sessions["s1"].alerts  # still open, as the nurse's console shows it
