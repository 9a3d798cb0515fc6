"""Agent on `ivig.actions.v1`: nurse acknowledgements, resolutions and notes."""

from __future__ import annotations

from typing import Any

import faust

from agents.runtime import RulesRuntime
from models.parsing import parse_action
from streams.infra.kafka.topics import ACTIONS_TOPIC


def register(app: faust.App, runtime: RulesRuntime) -> None:
    actions_topic = app.topic(ACTIONS_TOPIC, partitions=runtime.table.partitions)

    async def watch_actions(stream: Any) -> None:
        await runtime.consume(stream, parse_action, "validate-action")

    app.agent(actions_topic, name="ivigwatch.watch_actions")(watch_actions)
