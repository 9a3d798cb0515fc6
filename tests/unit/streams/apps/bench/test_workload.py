"""The bench load through the real rules: a quiet setup; breaches raise only the probed condition."""

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from agents.rules.loader import load_rules
from agents.runtime import RulesRuntime
from models.parsing import parse_event
from streams.apps.bench.kafka_side import BREACH_CONDITION
from streams.apps.bench.workload import Pool, mid_infusion_events, reading


def _runtime() -> RulesRuntime:
    return RulesRuntime(rules=load_rules(), table={}, alerts_topic=None, deadletter_topic=None)


def test_patients_join_mid_infusion_without_any_alert() -> None:
    runtime, pool, now = _runtime(), Pool("bn", 40), datetime.now(UTC)
    alerts = [
        a
        for i in range(40)
        for e in mid_infusion_events(pool, i, now)
        for a in runtime.evaluate(parse_event(json.dumps(e)))
    ]
    assert alerts == []
    session = runtime.load("bn-00001").sessions["bn-00001-s1"]  # type: ignore[union-attr]
    assert session.baseline_final
    assert session.start_ts is not None and session.start_ts < now


def test_breaching_readings_fire_only_the_probed_condition() -> None:
    runtime, pool, now = _runtime(), Pool("bn", 40), datetime.now(UTC)
    for i in range(40):
        for e in mid_infusion_events(pool, i, now):
            runtime.evaluate(parse_event(json.dumps(e)))
    rng = random.Random(3)
    fired: Counter[tuple[str, str]] = Counter()
    for k in range(4000):
        event = reading(pool, k % 40, now + timedelta(milliseconds=10 * k), k, rng, breach_share=0.02)
        fired.update(
            (a.condition.value, a.status.value) for a in runtime.evaluate(parse_event(json.dumps(event)))
        )
    # a lone breach waits for its repeat (pending), and the patient's next, normal reading closes it;
    # two in a row confirm it, into an incident
    assert {condition for condition, _ in fired} <= {BREACH_CONDITION, "incident"}
    assert fired[(BREACH_CONDITION, "firing")] >= 20
