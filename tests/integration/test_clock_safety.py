"""The production clock on the real broker: a reading timed in 2099, one an hour ahead of its
arrival and a nurse note timed in 2099 are dead-lettered and change no other patient's alerts (the
live alerts equal the replay's without them); a late offline upload is evaluated; after a restart
every patient's timers still fire on time. The worker runs the wall clock (no simulated clock), with
escalation after 30 s so the timers can be watched."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.rules.loader import DEFAULT_RULES_FILE, load_rules
from models.alerts import Alert
from streams.apps.replay import LineError, replay
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from tests.integration.conftest import (
    Collector,
    RulesStack,
    alert_key,
    as_message,
    local_settings,
    new_patient,
    produce,
    running_stack,
)

pytestmark = pytest.mark.integration

ESCALATE_SECONDS = 30
AHEAD = "[ts_ahead_of_arrival]"


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesStack]:
    state_dir = tmp_path_factory.mktemp("clock")
    rules_file = state_dir / "rules.toml"
    text = DEFAULT_RULES_FILE.read_text()
    for name in ("escalate_critical_minutes", "escalate_urgent_minutes"):
        text = text.replace(f"{name} = ", f"{name} = {ESCALATE_SECONDS / 60} # was ", 1)
    rules_file.write_text(text)
    timing = load_rules(rules_file).timing
    assert timing.escalate_urgent_minutes == timing.escalate_critical_minutes == ESCALATE_SECONDS / 60
    settings = local_settings(
        state_dir, simulated_clock=False, tick_seconds=1.0, topic_partitions=2, rules_file=rules_file
    )
    with running_stack(settings, ("rules",)) as workers:
        yield RulesStack(settings, workers)


def vitals(patient: str, ts: datetime, **values: float) -> dict[str, Any]:
    stamp = ts.isoformat().replace("+00:00", "Z")
    return {"type": "vitals", "patient_id": patient, "session_id": f"{patient}-s1", "ts": stamp, **values}


def of(collector: Collector, patient: str) -> list[Alert]:
    return [Alert.model_validate(m) for m in collector.seen[ALERTS_TOPIC] if m["patient_id"] == patient]


async def test_a_wrong_clock_pages_nobody_else_and_late_uploads_are_evaluated(
    production: RulesStack,
) -> None:
    settings = production.settings
    rules = load_rules(settings.rules_file)
    collector = Collector(settings)
    await collector.start()
    try:
        now = datetime.now(UTC)
        watched, poisoner, ahead, offline, ghost = (new_patient() for _ in range(5))
        # SpO2 84 is beyond the extreme limit (85): it pages at once, without waiting for a repeat
        good = [vitals(watched, now, spo2=84)]
        await produce(settings, EVENTS_TOPIC, [as_message(good[0])])
        fired = await collector.wait_for(
            ALERTS_TOPIC, lambda m: m["patient_id"] == watched and m["status"] == "firing"
        )
        assert fired, "the watched patient's low SpO2 raised no alert"
        fired_at = time.monotonic()

        await produce(
            settings,
            EVENTS_TOPIC,
            [
                as_message(vitals(poisoner, datetime(2099, 1, 1, tzinfo=UTC), spo2=97)),
                as_message(vitals(ahead, now + timedelta(hours=1), spo2=97)),
            ],
        )
        note = {
            "type": "note",
            "alert_id": f"{ghost}-s1:hypoxemia:1",
            "patient_id": ghost,
            "by": "rn-1",
            "ts": "2099-01-01T00:00:00Z",
            "note": "clock test",
        }
        await produce(settings, ACTIONS_TOPIC, [as_message(note)])
        late = vitals(offline, now - timedelta(hours=2), spo2=84)  # uploaded two hours late
        good.append(late)
        await produce(settings, EVENTS_TOPIC, [as_message(late)])

        refused = await collector.wait_for(DEADLETTER_TOPIC, lambda m: AHEAD in m["errors"][0], count=3)
        assert sorted(m["source"]["topic"] for m in refused) == [ACTIONS_TOPIC, EVENTS_TOPIC, EVENTS_TOPIC]
        assert all("2099" not in " ".join(m["errors"]) for m in refused)  # a reason, never the value

        # The late upload is evaluated at its own time (and, unacknowledged for two hours, escalated).
        uploaded = await collector.wait_for(
            ALERTS_TOPIC, lambda m: m["patient_id"] == offline and m["status"] == "firing"
        )
        assert uploaded and uploaded[0]["ts"].startswith(late["ts"][:16])

        # The watched patient's escalation comes when it is due, not when the wrong clocks arrived.
        escalated = await collector.wait_for(
            ALERTS_TOPIC,
            lambda m: m["patient_id"] == watched and m["status"] == "escalated",
            timeout=ESCALATE_SECONDS + 30,
        )
        assert escalated, "the watched patient's alert never escalated"
        assert time.monotonic() - fired_at >= ESCALATE_SECONDS - 8
        assert [m["escalation_level"] for m in escalated] == [1]
        assert not [m for m in collector.seen[ALERTS_TOPIC] if m["patient_id"] in (poisoner, ahead, ghost)]

        # Live equals the replay of the good events only, up to the watched patient's first escalation.
        cutoff = Alert.model_validate(escalated[0]).ts
        lines = [json.dumps(item) for item in good]
        replayed = [
            alert_key(a)
            for a in replay(lines, rules, until=cutoff)
            if not isinstance(a, LineError) and a.ts <= cutoff
        ]
        live = [alert_key(a) for p in (watched, offline) for a in of(collector, p) if a.ts <= cutoff]
        assert sorted(set(live)) == sorted(set(replayed))

        # A restart after those attempts leaves every patient's timers working.
        await asyncio.to_thread(production.restart_rules)
        second = await collector.wait_for(
            ALERTS_TOPIC,
            lambda m: (
                m["patient_id"] == watched and m["status"] == "escalated" and m["escalation_level"] == 2
            ),
            timeout=ESCALATE_SECONDS + 60,
        )
        assert second, "the watched patient's timers stopped after the restart"
        fresh = new_patient()
        await produce(settings, EVENTS_TOPIC, [as_message(vitals(fresh, datetime.now(UTC), spo2=84))])
        assert await collector.wait_for(
            ALERTS_TOPIC,
            lambda m: m["patient_id"] == fresh and m["status"] == "escalated",
            timeout=ESCALATE_SECONDS + 30,
        ), "a new patient's escalation did not fire after the restart"
    finally:
        await collector.stop()
