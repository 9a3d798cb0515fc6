"""The contract's events: what is accepted, and how a refusal reads (field and rule, no values)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.events import Infusion, NurseAction, Profile, Symptom, Vitals
from models.parsing import MAX_MESSAGE_BYTES, InvalidMessage, parse_action, parse_event, parse_replay_line

BASE = {"patient_id": "pt-0001", "session_id": "pt-0001-s1", "ts": "2026-11-24T10:15:00Z"}


def raw(**fields: object) -> bytes:
    return json.dumps({**BASE, **fields}).encode()


def refusal(message: bytes | str) -> str:
    with pytest.raises(InvalidMessage) as info:
        parse_event(message)
    return str(info.value)


def test_each_event_type_parses_to_its_model() -> None:
    assert isinstance(parse_event(raw(type="vitals", heart_rate=72)), Vitals)
    assert isinstance(parse_event(raw(type="symptom", symptom="headache", severity="mild")), Symptom)
    assert isinstance(parse_event(raw(type="infusion", action="start", rate_ml_per_h=30)), Infusion)
    profile = parse_event(
        json.dumps(
            {"type": "profile", "patient_id": "pt-1", "ts": BASE["ts"], "risk_factors": ["first_infusion"]}
        )
    )
    assert isinstance(profile, Profile)
    assert profile.session_id is None


def test_times_are_normalised_to_utc() -> None:
    event = parse_event(raw(type="vitals", heart_rate=72, ts="2026-11-24T11:15:00+01:00"))
    assert event.ts == datetime(2026, 11, 24, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("message", "field", "rule"),
    [
        (raw(type="vitals", heart_rate=301), "heart_rate", "less_than_equal"),
        (raw(type="vitals", spo2=29), "spo2", "greater_than_equal"),
        (raw(type="vitals", temperature_c="warm"), "temperature_c", "float_parsing"),
        (raw(type="vitals"), "(message)", "value_error"),
        (raw(type="vitals", systolic_bp=80, diastolic_bp=90), "(message)", "value_error"),
        (raw(type="weather", heart_rate=70), "type", "union_tag_invalid"),
        (raw(type="symptom", symptom="sneezing", severity="mild"), "symptom", "enum"),
        (raw(type="infusion", action="start"), "(message)", "value_error"),
        (raw(type="vitals", heart_rate=70, ts="2026-11-24T10:15:00"), "ts", "value_error"),
        (raw(type="vitals", heart_rate=70, ts=1795514400), "ts", "value_error"),
        (raw(type="vitals", heart_rate=70, ts="yesterday"), "ts", "datetime"),
        (raw(type="vitals", heart_rate=70, patient_id="Jane Doe"), "patient_id", "string_pattern_mismatch"),
        (raw(type="vitals", heart_rate=70, patient_id=""), "patient_id", "string_too_short"),
        (
            json.dumps({"type": "vitals", "ts": BASE["ts"], "heart_rate": 70}).encode(),
            "patient_id",
            "missing",
        ),
        (b'{"type": "vitals", "heart_rate": 7', "(message)", "json_invalid"),
        (b"\xff\xfe\x00garbage", "(message)", "utf8_invalid"),
        (b"[1, 2, 3]", "(message)", "dict_type"),
    ],
)
def test_refusals_name_the_field_and_the_rule(message: bytes, field: str, rule: str) -> None:
    text = refusal(message)
    assert text.startswith(f"{field}: ") or f"; {field}: " in text
    assert rule in text


def test_refusals_never_echo_patient_values() -> None:
    text = refusal(
        raw(type="vitals", heart_rate=287.123, systolic_bp=61.7, diastolic_bp=77.9, patient_id="Jane Doe")
    )
    for value in ("287.123", "61.7", "77.9", "Jane", "Doe"):
        assert value not in text


def test_oversized_and_deeply_nested_messages_are_refused_cleanly() -> None:
    assert "too_large" in refusal(b" " * (MAX_MESSAGE_BYTES + 1))
    assert "json_invalid" in refusal(b"[" * 50_000)


def test_vitals_values_lists_only_the_measurements_present() -> None:
    vitals = parse_event(raw(type="vitals", heart_rate=72, spo2=97, on_oxygen=True))
    assert isinstance(vitals, Vitals)
    assert vitals.values() == {"heart_rate": 72.0, "spo2": 97.0}


def test_nurse_actions_parse_alone_and_as_replay_lines() -> None:
    line = json.dumps(
        {"type": "ack", "alert_id": "s1:fever:1", "patient_id": "pt-1", "by": "rn-7", "ts": BASE["ts"]}
    )
    assert isinstance(parse_action(line), NurseAction)
    assert isinstance(parse_replay_line(line), NurseAction)
    with pytest.raises(InvalidMessage, match="by"):
        parse_action(json.dumps({"type": "ack", "alert_id": "x:y:1", "patient_id": "p", "ts": BASE["ts"]}))


@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_either_an_event_or_a_clear_refusal(data: bytes) -> None:
    try:
        parse_event(data)
    except InvalidMessage as exc:
        assert exc.errors
        assert all("[" in line and "]" in line for line in exc.errors)


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=30,
    )
)
def test_arbitrary_json_is_either_an_event_or_a_clear_refusal(value: object) -> None:
    try:
        parse_event(json.dumps(value))
    except InvalidMessage as exc:
        assert exc.errors
