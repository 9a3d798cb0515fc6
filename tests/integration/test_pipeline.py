"""End to end on the real broker and InfluxDB: events in, alerts out, points stored."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest

from agents.rules.loader import load_rules
from deploy import local_influx
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC, PATIENT_TOPIC
from tests.integration.conftest import (
    Collector,
    Live,
    as_message,
    event,
    new_patient,
    produce,
    wait_for_points,
)

pytestmark = pytest.mark.integration


def infusion_with_anaphylaxis(patient: str) -> list[dict[str, object]]:
    return [
        event(patient, 0, type="profile", risk_factors=["first_infusion"], epinephrine_available=True),
        event(
            patient,
            0,
            type="vitals",
            heart_rate=74,
            systolic_bp=124,
            diastolic_bp=80,
            temperature_c=36.7,
            spo2=98,
            device_id="cuff-1",
        ),
        event(patient, 1, type="infusion", action="start", rate_ml_per_h=40, product="Privigen"),
        event(patient, 2, type="symptom", symptom="hives", severity="moderate"),
        event(patient, 3, type="symptom", symptom="throat_tightness", severity="severe"),
    ]


async def test_anaphylaxis_signs_give_a_critical_alert_within_seconds(
    live: Live, collector: Collector
) -> None:
    patient = new_patient()
    started = time.monotonic()
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in infusion_with_anaphylaxis(patient)])
    found = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["patient_id"] == patient and m["condition"] == "anaphylaxis"
    )
    latency = time.monotonic() - started
    assert found, "no anaphylaxis alert on ivig.alerts.v1"
    alert = found[0]
    assert (alert["severity"], alert["status"], alert["alert_id"]) == (
        "critical",
        "firing",
        f"{patient}-s1:anaphylaxis:1",
    )
    assert "epinephrine" in alert["action"]
    assert alert["rule"]["version"] == load_rules().version
    assert latency < 15
    # the patient's app is told too, on its own topic (hives with throat tightness: corroborated)
    told = await collector.wait_for(
        PATIENT_TOPIC, lambda m: m["patient_id"] == patient and m["kind"] == "incident"
    )
    assert told, "no incident message on ivig.patient.v1"
    assert told[0]["instructions"] and told[0]["incident_id"] == alert["incident_id"]
    assert "epinephrine" in told[0]["text"]


async def test_every_valid_event_and_alert_is_written_to_influxdb(live: Live, collector: Collector) -> None:
    patient = new_patient()
    events = infusion_with_anaphylaxis(patient)
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in events])
    rows = await wait_for_points(
        live.settings,
        f"SELECT heart_rate, systolic_bp, spo2, temperature_c, device_id FROM vitals "
        f"WHERE patient_id = '{patient}'",
        1,
    )
    assert rows and rows[0][1:] == [74.0, 124.0, 98.0, 36.7, "cuff-1"]
    symptoms = await wait_for_points(
        live.settings, f"SELECT reported, symptom, severity FROM symptoms WHERE patient_id = '{patient}'", 2
    )
    assert sorted(r[2] for r in symptoms) == ["hives", "throat_tightness"]
    alerts = await wait_for_points(
        live.settings,
        f"SELECT alert_id, severity FROM alerts WHERE patient_id = '{patient}' AND condition = 'anaphylaxis'",
        1,
    )
    assert alerts[0][1:] == [f"{patient}-s1:anaphylaxis:1", "critical"]
    infusion = await wait_for_points(
        live.settings, f"SELECT rate_ml_per_h, product FROM infusion_events WHERE patient_id = '{patient}'", 1
    )
    assert infusion[0][1:] == [40.0, "Privigen"]


async def test_rewriting_the_same_events_does_not_duplicate_points(live: Live) -> None:
    patient = new_patient()
    readings = [event(patient, i, type="vitals", heart_rate=70 + i, spo2=97) for i in range(5)]
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in readings])
    await wait_for_points(live.settings, f"SELECT heart_rate FROM vitals WHERE patient_id = '{patient}'", 5)
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in readings])  # a producer resend
    await asyncio.sleep(3)
    rows = await wait_for_points(
        live.settings, f"SELECT heart_rate FROM vitals WHERE patient_id = '{patient}'", 5
    )
    assert [r[1] for r in rows] == [70.0, 71.0, 72.0, 73.0, 74.0]


async def test_invalid_events_are_dead_lettered_while_valid_ones_keep_flowing(
    live: Live, collector: Collector
) -> None:
    patient = new_patient()
    bad = [
        (patient.encode(), b"{truncated"),
        (patient.encode(), json.dumps(event(patient, 0, type="vitals", heart_rate=450)).encode()),
        (patient.encode(), b"\xff\xfe\xfa"),
        (
            patient.encode(),
            json.dumps(event(patient, 0, type="vitals", spo2=97)).encode()[:-1] + b"," * 70000,
        ),
    ]
    good = event(patient, 1, type="vitals", spo2=90)
    await produce(live.settings, EVENTS_TOPIC, [*bad, as_message(good)])
    dead = await collector.wait_for(
        DEADLETTER_TOPIC, lambda m: base64.b64decode(m["raw_base64"]) in {v for _, v in bad}, count=4
    )
    assert len(dead) == 4
    reasons = sorted(m["errors"][0].rsplit("[", 1)[1] for m in dead)
    assert reasons == ["json_invalid]", "less_than_equal]", "too_large]", "utf8_invalid]"]
    assert all(m["source"]["topic"] == EVENTS_TOPIC and m["source"]["offset"] >= 0 for m in dead)
    assert "450" not in json.dumps([m["errors"] for m in dead])
    alerts = await collector.wait_for(ALERTS_TOPIC, lambda m: m["patient_id"] == patient)
    assert [a["condition"] for a in alerts] == ["hypoxemia"]
    assert live.rules.process.poll() is None, "the rule worker must survive bad input"


async def test_influxdb_outage_delays_no_alert_and_loses_no_reading(live: Live, collector: Collector) -> None:
    patient = new_patient()
    local_influx.stop(live.settings, log=lambda line: None)
    try:
        readings = [event(patient, i, type="vitals", heart_rate=80, spo2=97) for i in range(10)]
        readings.append(event(patient, 11, type="vitals", heart_rate=140, spo2=97))
        started = time.monotonic()
        await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in readings])
        alerts = await collector.wait_for(ALERTS_TOPIC, lambda m: m["patient_id"] == patient, timeout=15)
        assert [a["condition"] for a in alerts] == ["tachycardia"]
        assert time.monotonic() - started < 10
        await asyncio.sleep(2)  # the writer is now retrying against a dead InfluxDB
    finally:
        local_influx.ensure_running(live.settings, log=lambda line: None)
    rows = await wait_for_points(
        live.settings, f"SELECT heart_rate FROM vitals WHERE patient_id = '{patient}'", 11, timeout=60
    )
    assert len(rows) == 11
    assert live.writer.process.poll() is None
