"""A nurse's limit through the real broker (issue 16): the limit action, then a reading that would
have alerted does not, one past the limit does; a snooze of a critical row is dead-lettered."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from tests.integration.conftest import Collector, Live, as_message, event, new_patient, produce

pytestmark = pytest.mark.integration


def setting(patient: str, kind: str, **fields: object) -> tuple[bytes, bytes]:
    now = datetime.now(UTC)
    until = (now + timedelta(hours=8)).isoformat()
    body = {"type": kind, "patient_id": patient, "by": "rn-live", "ts": now.isoformat()}
    return patient.encode(), json.dumps(
        {**body, kind: {"until": until, "reason": "usual", **fields}}
    ).encode()


async def test_a_usual_spo2_of_91_pages_only_below_it(live: Live, collector: Collector) -> None:
    patient = new_patient()
    await produce(
        live.settings,
        ACTIONS_TOPIC,
        [
            setting(patient, "limit", vital="spo2", side="low", value=91),
            setting(patient, "snooze", condition="hypotension", rule="hypotension.absolute"),
        ],
    )
    # the refused snooze comes after the limit on the patient's partition: once it is dead-lettered,
    # the limit is in the patient's state
    dead = await collector.wait_for(
        DEADLETTER_TOPIC, lambda m: patient.encode() in base64.b64decode(m["raw_base64"])
    )
    assert dead and "[not_snoozable]" in dead[0]["errors"][0]
    readings = [
        event(patient, 0, type="vitals", spo2=97, heart_rate=72, systolic_bp=120, temperature_c=36.8),
        event(patient, 1, type="infusion", action="start", rate_ml_per_h=40),
        event(patient, 2, type="vitals", spo2=91),
        event(patient, 3, type="vitals", spo2=91),
        event(patient, 4, type="vitals", spo2=89),
        event(patient, 5, type="vitals", spo2=89),
    ]
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in readings])
    paged = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["patient_id"] == patient and m["condition"] == "hypoxemia" and m["page"]
    )
    assert paged, "no hypoxemia page for SpO2 89 past the patient's limit of 91"
    # the readings at 91 raised no hypoxemia (not even a pending one): its first message is the 89
    # (other conditions may come first: a timer between the readings, e.g. stale_data)
    first = next(
        m
        for m in collector.seen[ALERTS_TOPIC]
        if m["patient_id"] == patient and m["condition"] == "hypoxemia"
    )
    assert first["evidence"]["values"] == {"spo2": 89}
    assert "patient limit SpO2 < 91 set by rn-live" in paged[0]["evidence"]["summary"]
