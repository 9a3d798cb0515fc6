"""Points as InfluxDB will store them: measurement, pseudonymous tags, millisecond event time."""

from __future__ import annotations

import json

from models.parsing import parse_action, parse_event
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.sinks.influx.line_protocol import action_point, event_point, line_for, to_line

TS = "2026-11-24T10:15:00.123456Z"
TS_MS = "1795515300123"


def line(**fields: object) -> str:
    base = {"patient_id": "pt-1", "session_id": "pt-1-s1", "ts": TS}
    return to_line(event_point(parse_event(json.dumps({**base, **fields}))))


def test_vitals_point_has_float_fields_tags_and_millisecond_event_time() -> None:
    text = line(type="vitals", heart_rate=72, spo2=97, device_id="oxi 1", event_id="e-9")
    assert text == (
        "vitals,device_id=oxi\\ 1,patient_id=pt-1,session_id=pt-1-s1 "
        f'event_id="e-9",heart_rate=72,on_oxygen=false,spo2=97 {TS_MS}'
    )


def test_the_same_event_always_gives_the_same_line() -> None:
    assert line(type="vitals", temperature_c=37.2) == line(type="vitals", temperature_c=37.2)


def test_symptom_infusion_and_profile_points() -> None:
    assert line(type="symptom", symptom="headache", severity="mild", score=3, note='said "ow"').startswith(
        "symptoms,patient_id=pt-1,session_id=pt-1-s1,severity=mild,symptom=headache "
        'note="said \\"ow\\"",reported=1i,score=3'
    )
    infusion = line(type="infusion", action="rate_change", rate_ml_per_h=120)
    assert infusion.startswith("infusion_events,action=rate_change,patient_id=pt-1,session_id=pt-1-s1 ")
    assert "rate_ml_per_h=120" in infusion
    profile = line(type="profile", risk_factors=["long_gap", "diabetes"], epinephrine_available=False)
    assert profile.startswith("profiles,patient_id=pt-1,session_id=pt-1-s1 ")
    assert 'risk_factors="diabetes,long_gap"' in profile and "epinephrine_available=false" in profile


def test_nurse_action_point() -> None:
    action = parse_action(
        json.dumps({"type": "ack", "alert_id": "s1:fever:1", "patient_id": "pt-1", "by": "rn-7", "ts": TS})
    )
    assert to_line(action_point(action)) == (
        f'nurse_actions,patient_id=pt-1,type=ack alert_id="s1:fever:1",by="rn-7" {TS_MS}'
    )


def test_a_limit_point_keeps_its_reason_and_expiry() -> None:
    limit = {"vital": "spo2", "side": "low", "value": 91, "until": "2026-11-24T18:00:00Z", "reason": "usual"}
    action = parse_action(
        json.dumps({"type": "limit", "patient_id": "pt-1", "by": "rn-7", "ts": TS, "limit": limit})
    )
    assert to_line(action_point(action)) == (
        'nurse_actions,patient_id=pt-1,type=limit alert_id="pt-1:limit:spo2:low",by="rn-7",clear=false,'
        f'reason="usual",until="2026-11-24T18:00:00Z",value=91 {TS_MS}'
    )


def test_a_point_is_timed_at_its_exact_millisecond() -> None:
    # The client library's float conversion stored 20:49:43.322 as .321 (about one time in ten).
    for millis in range(1000):
        ts = f"2026-12-06T20:49:43.{millis:03d}Z"
        raw = json.dumps({"type": "vitals", "patient_id": "p", "session_id": "p-s1", "ts": ts, "spo2": 97})
        text = line_for(EVENTS_TOPIC, raw.encode(), b"p")
        assert text is not None and text.endswith(f" {1796590183000 + millis}"), ts
