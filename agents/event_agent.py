"""Agent on `ivig.events.v1`: validate, dead-letter what breaks the contract, run the rules."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import faust

from agents.live_clock import live_clock
from agents.rules.loader import load_rules
from agents.runtime import RulesRuntime, patient_table
from models.parsing import parse_event
from streams.infra.kafka.faust_app import committed_offset
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC, PATIENT_TOPIC
from streams.infra.settings import Settings


def register(app: faust.App, settings: Settings) -> RulesRuntime:
    runtime = RulesRuntime(
        rules=load_rules(settings.rules_file),
        table=patient_table(app, settings.topic_partitions),
        alerts_topic=app.topic(ALERTS_TOPIC, partitions=settings.topic_partitions),
        deadletter_topic=app.topic(DEADLETTER_TOPIC),
        patient_topic=app.topic(PATIENT_TOPIC, partitions=settings.topic_partitions),
        clock=live_clock(settings.simulated_clock),
        max_skew=None if settings.simulated_clock else timedelta(minutes=settings.max_clock_skew_minutes),
        checkpoint_events=settings.checkpoint_events,
        live_budget=settings.live_states_mb * 1_000_000,
    )
    runtime.committed_offset = partial(committed_offset, app, EVENTS_TOPIC)
    events_topic = app.topic(EVENTS_TOPIC, partitions=settings.topic_partitions)

    async def watch_events(stream: Any) -> None:
        await runtime.consume(stream, parse_event, "validate")

    app.agent(events_topic, name="ivigwatch.watch_events")(watch_events)

    async def checkpoint() -> None:
        # Also while rebalancing: Faust waits for every record to be acked before a revocation.
        await runtime.checkpoint()
        if not app.rebalancing and app.consumer is not None:
            # The offsets just acked are committed now, not up to Faust's commit interval later: an
            # event waits for its commit at most one checkpoint interval.
            await app.consumer.commit()

    app.timer(interval=settings.checkpoint_seconds, name="ivigwatch.checkpoint")(checkpoint)
    app.runtime = runtime  # for tests and the CLI
    app.counts = runtime.counts  # shown on /healthz
    return runtime
