"""The actions agent with limits and snoozes (contract v2): taken into the patient's state, or
dead-lettered with a clear reason when the rule file does not allow them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import faust

from models.deadletter import DeadLetter
from tests.agents.test_events_agent import agent, alerts_sent, event


def setting(kind: str, hours: float, **fields: object) -> bytes:
    now = datetime.now(UTC)
    until = (now + timedelta(hours=hours)).isoformat()
    body = {"type": kind, "patient_id": "pt-1", "by": "rn-2", "ts": now.isoformat()}
    return json.dumps({**body, kind: {"until": until, "reason": "usual SpO2 91", **fields}}).encode()


async def test_a_limit_is_kept_for_the_patient_and_a_critical_snooze_is_dead_lettered(
    rules_app: faust.App,
) -> None:
    async with agent(rules_app, "watch_actions").test_context() as ctx:
        await ctx.put(setting("limit", 8, vital="spo2", side="low", value=91), key=b"pt-1")
        await ctx.put(setting("snooze", 4, condition="hypotension", rule="hypotension.absolute"), key=b"pt-1")
        await ctx.put(setting("limit", 200, vital="spo2", side="low", value=91), key=b"pt-1")
    state = rules_app.runtime.load("pt-1")  # type: ignore[attr-defined]
    assert state is not None and [(x.vital, x.value, x.by) for x in state.limits] == [("spo2", 91, "rn-2")]
    dead = [DeadLetter.model_validate_json(v) for _, v in rules_app.runtime.deadletter_topic.sent]  # type: ignore[attr-defined]
    assert [d.errors[0].rsplit(" [", 1)[1] for d in dead] == ["not_snoozable]", "limit_too_long]"]
    assert "critical rows are never snoozed" in dead[0].errors[0] and "91" not in " ".join(dead[1].errors)
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event(0, type="vitals", spo2=91), key=b"pt-1")
        assert alerts_sent(rules_app) == []
        await ctx.put(event(1, type="vitals", spo2=90), key=b"pt-1")
    assert [a.condition.value for a in alerts_sent(rules_app)] == ["hypoxemia"]
