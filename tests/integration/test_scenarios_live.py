"""The live agents on the real broker give the same alerts as `replay` for the scenario library's
live subset, and a restarted rules worker continues where it stopped (its state is in Faust tables).

Each scenario is moved a day and more into the future, so its event times run ahead of the wall
clock as in an accelerated simulation: the worker's clock is then the latest event time, exactly as
in a replay (contract, Time). A stack of its own keeps that clock away from the other live tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from agents.rules.loader import load_rules
from deploy.workers import WorkerProcess
from models.alerts import Alert
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC
from tests.integration.conftest import (
    Collector,
    RulesStack,
    alert_key,
    local_settings,
    produce,
    running_stack,
)
from tests.scenarios.library import Scenario, check, load_scenarios, replay_scenario

pytestmark = pytest.mark.integration

RULES = load_rules()
LIVE = [s for s in load_scenarios() if s.live]
EVENT_TYPES = {"vitals", "symptom", "infusion", "profile"}
SETTLE_SECONDS = 3.0
"""After the expected number of messages has arrived, wait this long for any extra one."""
_slots = count()


@pytest.fixture(scope="module")
def scenario_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesStack]:
    settings = local_settings(tmp_path_factory.mktemp("scenarios"), tick_seconds=1.0, topic_partitions=2)
    with running_stack(settings, ("rules",)) as workers:
        yield RulesStack(settings, workers)


def future_slot() -> datetime:
    """A start time ahead of the wall clock and of every scenario already sent (30 days apart)."""
    base = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
    return base + timedelta(days=30 * next(_slots))


def runs(scenario: Scenario) -> list[tuple[str, list[tuple[bytes, bytes]]]]:
    """The lines as runs of (topic, messages): events to ivig.events.v1, nurse actions to
    ivig.actions.v1, in file order."""
    out: list[tuple[str, list[tuple[bytes, bytes]]]] = []
    for line in scenario.lines:
        data = json.loads(line)
        topic = EVENTS_TOPIC if data.get("type") in EVENT_TYPES else ACTIONS_TOPIC
        if not out or out[-1][0] != topic:
            out.append((topic, []))
        out[-1][1].append((data["patient_id"].encode(), line.encode()))
    return out


async def send_in_order(stack: RulesStack, scenario: Scenario) -> None:
    """Produce run by run, each only once the worker has taken every message of the runs before:
    the two topics have no order between them, the file does."""
    worker = stack.workers["rules"]
    for topic, messages in runs(scenario):
        counter = "events" if topic == EVENTS_TOPIC else "actions"
        target = _count(worker, counter) + len(messages)
        await produce(stack.settings, topic, messages)
        deadline = time.monotonic() + 30
        while _count(worker, counter) < target:
            assert time.monotonic() < deadline, f"the worker did not take the {counter} in time"
            await asyncio.sleep(0.1)


def _count(worker: WorkerProcess, name: str) -> int:
    health = worker.health()
    assert health is not None, "the rules worker stopped answering /healthz"
    return int(health["counts"][name])


async def collect(
    collector: Collector, scenario: Scenario, expected: int, timeout: float = 45.0
) -> list[Alert]:
    patients = scenario.patient_ids
    matched = await collector.wait_for(ALERTS_TOPIC, lambda m: m["patient_id"] in patients, expected, timeout)
    if len(matched) >= expected:
        await asyncio.sleep(SETTLE_SECONDS)
        matched = await collector.wait_for(ALERTS_TOPIC, lambda m: m["patient_id"] in patients, 10**6, 0.5)
    return [Alert.model_validate(m) for m in matched]


def test_the_live_subset_is_representative() -> None:
    assert len(LIVE) >= 6
    covered = {c for s in LIVE for c in s.covers}
    assert len(covered) >= 6, covered
    patients = [p for s in LIVE for p in s.patient_ids]
    assert len(patients) == len(set(patients)), "live scenarios must not share patients"
    assert any(len(runs(s)) > 1 for s in LIVE), "some live scenario should hold nurse actions"
    for scenario in LIVE:
        assert len(scenario.patient_ids) == 1 and not scenario.bad_lines and scenario.until is None


@pytest.mark.parametrize("scenario", LIVE, ids=[s.name for s in LIVE])
async def test_live_agents_give_the_same_alerts_as_replay(
    scenario_stack: RulesStack, scenario: Scenario
) -> None:
    moved = scenario.rebased(future_slot())
    expected, errors = replay_scenario(moved, RULES)
    assert not errors
    collector = Collector(scenario_stack.settings)
    await collector.start()
    try:
        await send_in_order(scenario_stack, moved)
        seen = await collect(collector, moved, len(expected))
    finally:
        await collector.stop()
    assert sorted(map(alert_key, seen)) == sorted(map(alert_key, expected))
    assert check(moved, seen) == []


def renamed(scenario: Scenario, suffix: str) -> Scenario:
    """The same scenario for a patient not seen before (its ids, and so its sessions, get a suffix)."""
    lines = []
    for line in scenario.lines:
        data = json.loads(line)
        for field in ("patient_id", "session_id", "alert_id"):
            if isinstance(data.get(field), str):
                for patient in scenario.patient_ids:
                    data[field] = data[field].replace(patient, patient + suffix)
        lines.append(json.dumps(data))
    return replace(scenario, lines=lines)


def split_inside_an_alert(scenario: Scenario) -> int:
    """The first line count after which an alert already sent still has messages to come."""
    full, _ = replay_scenario(scenario, RULES)
    for lines in range(1, len(scenario.lines)):
        before, _ = replay_scenario(replace(scenario, lines=scenario.lines[:lines]), RULES)
        opened = {a.alert_id for a in before}
        if before and any(a.alert_id in opened for a in full[len(before) :]):
            return lines
    raise AssertionError(f"{scenario.name}: no alert spans a split")


async def test_a_restarted_rules_worker_continues_where_it_stopped(scenario_stack: RulesStack) -> None:
    scenario = next(s for s in LIVE if s.name == "respiratory-sob-low-spo2")
    moved = renamed(scenario, "-restart").rebased(future_slot())
    expected, _ = replay_scenario(moved, RULES)
    split = split_inside_an_alert(moved)
    first_part, second_part = (
        replace(moved, lines=part) for part in (moved.lines[:split], moved.lines[split:])
    )
    before, _ = replay_scenario(first_part, RULES)
    collector = Collector(scenario_stack.settings)
    await collector.start()
    try:
        await send_in_order(scenario_stack, first_part)
        first = await collect(collector, moved, len(before))
        assert sorted(map(alert_key, first)) == sorted(map(alert_key, before))
        await asyncio.to_thread(scenario_stack.restart_rules)
        await send_in_order(scenario_stack, second_part)
        seen = await collect(collector, moved, len(expected))
    finally:
        await collector.stop()
    # the alert opened before the restart goes on (escalates) under the same id, never fires afresh
    assert sorted(map(alert_key, seen)) == sorted(map(alert_key, expected)), (
        "the restarted worker forgot or repeated"
    )
