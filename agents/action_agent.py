"""Agent on `ivig.actions.v1`: nurse acknowledgements, resolutions and notes; per-patient limits and
snoozes (v2), a limit or snooze the rule file does not allow going to the dead-letter topic."""

from __future__ import annotations

from typing import Any

import faust

from agents.rules.patient_limits import problems
from agents.runtime import RulesRuntime
from models.events import NurseAction
from models.parsing import InvalidMessage, parse_action
from streams.infra.kafka.topics import ACTIONS_TOPIC


def register(app: faust.App, runtime: RulesRuntime) -> None:
    actions_topic = app.topic(ACTIONS_TOPIC, partitions=runtime.table.partitions)

    def parse(raw: bytes) -> NurseAction:
        action = parse_action(raw)
        if errors := problems(action, runtime.rules):
            raise InvalidMessage(errors)
        return action

    async def watch_actions(stream: Any) -> None:
        await runtime.consume(stream, parse, "validate-action")

    app.agent(actions_topic, name="ivigwatch.watch_actions")(watch_actions)
