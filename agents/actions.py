"""Agent on `ivig.actions.v1`: nurse acknowledgements, resolutions and notes."""

from __future__ import annotations

from typing import Any

import faust

from agents.events import key_problem
from agents.runtime import RulesRuntime
from models.parsing import InvalidMessage, parse_action
from streams.topics import ACTIONS_TOPIC


def register(app: faust.App, runtime: RulesRuntime) -> None:
    actions_topic = app.topic(ACTIONS_TOPIC, partitions=runtime.table.partitions)

    async def watch_actions(stream: Any) -> None:
        async for event in stream.events():
            raw, key, message = event.value, event.key, event.message
            try:
                action = parse_action(raw)
                errors = key_problem(key, action.patient_id)
            except InvalidMessage as exc:
                errors = exc.errors
            if errors:
                await runtime.dead_letter(raw, key, errors, "validate-action", message)
                continue
            await runtime.handle(action)

    app.agent(actions_topic, name="ivigwatch.watch_actions")(watch_actions)
