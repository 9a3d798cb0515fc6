"""The rule worker's agents, driven with Faust's test_context."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import pytest

from agents import runtime as runtime_module
from models.alerts import Alert
from models.deadletter import DeadLetter


def agent(app: faust.App, name: str) -> faust.types.AgentT:
    return next(a for a in app.agents.values() if a.name.endswith(name))


def event(minutes: float, **fields: object) -> bytes:
    ts = datetime.now(UTC) + timedelta(minutes=minutes)
    base = {"patient_id": "pt-1", "session_id": "s1", "ts": ts.isoformat()}
    return json.dumps({**base, **fields}).encode()


def alerts_sent(app: faust.App) -> list[Alert]:
    return [Alert.model_validate_json(v) for _, v in app.runtime.alerts_topic.sent]  # type: ignore[attr-defined]


async def test_valid_events_update_state_and_emit_the_alert(rules_app: faust.App) -> None:
    async with agent(rules_app, "watch_events").test_context() as ctx:
        # (the care schedule's set before the start: no set is due until 15 minutes after it)
        await ctx.put(event(-5, type="vitals", spo2=97, heart_rate=72), key=b"pt-1")
        await ctx.put(event(0, type="infusion", action="start", rate_ml_per_h=50), key=b"pt-1")
        await ctx.put(event(1, type="symptom", symptom="hives", severity="moderate"), key=b"pt-1")
        await ctx.put(event(2, type="symptom", symptom="throat_tightness", severity="severe"), key=b"pt-1")
    sent = alerts_sent(rules_app)
    assert [(a.condition.value, a.severity.value) for a in sent if a.condition.value != "incident"] == [
        ("infusion_reaction", "warning"),
        ("anaphylaxis", "critical"),
    ]
    assert {a.incident_id for a in sent} == {"pt-1:incident:1"}  # one episode, one incident
    assert all(key == b"pt-1" for key, _ in rules_app.runtime.alerts_topic.sent)  # type: ignore[attr-defined]
    state = rules_app.runtime.load("pt-1")  # type: ignore[attr-defined]
    assert state is not None and "s1" in state.sessions


async def test_invalid_events_are_dead_lettered_and_the_agent_carries_on(rules_app: faust.App) -> None:
    out_of_range = event(0, type="vitals", heart_rate=999)
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(b"{not json", key=b"pt-1")
        await ctx.put(out_of_range, key=b"pt-1")
        await ctx.put(event(0, type="vitals", heart_rate=72), key=b"someone-else")
        await ctx.put(event(0, type="vitals", spo2=90), key=b"pt-1")
    dead = [DeadLetter.model_validate_json(v) for _, v in rules_app.runtime.deadletter_topic.sent]  # type: ignore[attr-defined]
    assert [d.errors[0].split(" [")[1] for d in dead] == [
        "json_invalid]",
        "less_than_equal]",
        "key_mismatch]",
    ]
    assert dead[1].raw() == out_of_range
    assert (dead[1].source.topic, dead[1].source.offset) == ("ivig.events.v1", 1)
    assert "999" not in " ".join(dead[1].errors)
    assert [a.condition.value for a in alerts_sent(rules_app)] == ["hypoxemia"]


async def test_nurse_ack_goes_through_the_actions_agent(rules_app: faust.App) -> None:
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event(0, type="vitals", spo2=90), key=b"pt-1")
    ack = {
        "type": "ack",
        "alert_id": "s1:hypoxemia:1",
        "patient_id": "pt-1",
        "by": "rn-2",
        "ts": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }
    async with agent(rules_app, "watch_actions").test_context() as ctx:
        await ctx.put(json.dumps(ack).encode(), key=b"pt-1")
        await ctx.put(b"[]", key=b"pt-1")
    assert [(a.status.value, a.by) for a in alerts_sent(rules_app) if a.condition.value != "incident"] == [
        ("firing", None),
        ("acknowledged", "rn-2"),
    ]
    assert len(rules_app.runtime.deadletter_topic.sent) == 1  # type: ignore[attr-defined]


async def test_a_rule_failure_dead_letters_that_event_and_other_patients_keep_their_alerts(
    rules_app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runtime_module.process

    def flaky(state: Any, item: Any, now: Any, rules: Any) -> Any:
        if state.patient_id == "pt-bug":
            raise KeyError("heart_rate")
        return real(state, item, now, rules)

    monkeypatch.setattr(runtime_module, "process", flaky)
    bug = json.loads(event(0, type="vitals", spo2=90))
    bug["patient_id"] = "pt-bug"
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(json.dumps(bug).encode(), key=b"pt-bug")
        await ctx.put(event(0, type="vitals", spo2=90), key=b"pt-1")
    dead = [DeadLetter.model_validate_json(v) for _, v in rules_app.runtime.deadletter_topic.sent]
    assert [(d.stage, d.errors) for d in dead] == [
        ("rules", ["(rules): KeyError while evaluating [rule_error]"])
    ]
    assert [a.patient_id for a in alerts_sent(rules_app)] == ["pt-1"]


async def test_the_owner_of_an_acknowledged_incident_is_reminded_by_the_runtime_timers(
    rules_app: faust.App,
) -> None:
    """Ack, handover and the acknowledgement timeout through the agents: the timer is in the stored
    state, and the runtime's tick sends the reminder to the new owner alone."""
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event(-5, type="vitals", spo2=97, heart_rate=72), key=b"pt-1")
        await ctx.put(event(0, type="infusion", action="start", rate_ml_per_h=50), key=b"pt-1")
        await ctx.put(event(1, type="symptom", symptom="hives", severity="moderate"), key=b"pt-1")
        await ctx.put(event(2, type="symptom", symptom="throat_tightness", severity="severe"), key=b"pt-1")
    base = {"alert_id": "pt-1:incident:1", "patient_id": "pt-1", "by": "rn-2"}
    acked_at = datetime.now(UTC) + timedelta(minutes=3)
    async with agent(rules_app, "watch_actions").test_context() as ctx:
        await ctx.put(json.dumps({**base, "type": "ack", "ts": acked_at.isoformat()}).encode(), key=b"pt-1")
        handover = {
            **base,
            "type": "handover",
            "to": "rn-5",
            "note": "end of shift",
            "ts": acked_at.isoformat(),
        }
        await ctx.put(json.dumps(handover).encode(), key=b"pt-1")
    state = rules_app.runtime.load("pt-1")  # type: ignore[attr-defined]
    (incident,) = state.incidents
    assert incident.owner == "rn-5" and incident.remind_due is not None  # stored: survives a restart
    reminded = await rules_app.runtime.tick("pt-1", 0, incident.remind_due)  # type: ignore[attr-defined]
    pages = [(a.alert_id, a.notify, a.owner) for a in reminded if a.page]  # (beside vitals overdue)
    assert pages == [("pt-1:incident:1", "rn-5", "rn-5")]
    assert rules_app.runtime.load("pt-1").incidents[0].reescalate_due is not None  # type: ignore[attr-defined]
