"""Fuzzing the ingest path: whatever arrives, a contract object or a clear, value-free refusal.

Arbitrary bytes, text (lone surrogates included), JSON of any shape and mutations of valid events
go through `parse_event`, `parse_action` and `parse_replay_line`. A refusal is always an
`InvalidMessage` whose errors read `field: message [code]` and never quote the patient's value;
the writer's `line_for` and the dead-letter record builder never raise, and a record fits Kafka.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.deadletter import RAW_KEEP_BYTES, DeadLetter, SourcePosition
from models.events import NurseAction
from models.parsing import InvalidMessage, parse_action, parse_event, parse_replay_line
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.sinks.influx.line_protocol import line_for
from tests.strategies import symptom_fields, vitals_values

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSERS: list[Callable[[bytes | str], object]] = [parse_event, parse_action, parse_replay_line]
ERROR_LINE = re.compile(
    r"^(?P<field>\(message\)|\(key\)|[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*): "
    r"(?P<msg>.+) \[(?P<code>[a-z0-9_]+)\]$"
)
"""`field: message [code]`: the field path holds only field names and list positions."""
MARKER = "zqxjv"
"""A text no error message contains unless it quotes the input."""
MARKER_NUMBER = 987654.125

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=40,
)


def refusal_or_object(parse: Callable[[bytes | str], object], message: bytes | str) -> list[str]:
    """Parse; return the refusal's errors ([] when it parsed), checking that each reads clearly."""
    try:
        parse(message)
    except InvalidMessage as exc:
        assert exc.errors, "a refusal must say why"
        for line in exc.errors:
            assert ERROR_LINE.match(line), f"unclear error line: {line!r}"
            assert len(line) < 400
        return exc.errors
    return []


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_escape_as_an_unhandled_exception(data: bytes) -> None:
    for parse in PARSERS:
        refusal_or_object(parse, data)
    for topic in (EVENTS_TOPIC, ALERTS_TOPIC, ACTIONS_TOPIC):
        line_for(topic, data, b"pt-1")


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_with_lone_surrogates_is_refused_not_raised(text: str) -> None:
    for parse in PARSERS:
        refusal_or_object(parse, text)


@FUZZ
@given(JSON_VALUES)
def test_arbitrary_json_is_an_object_or_a_clear_refusal(value: Any) -> None:
    message = json.dumps(value)
    for parse in PARSERS:
        refusal_or_object(parse, message)
        refusal_or_object(parse, message.encode())
    for topic in (EVENTS_TOPIC, ALERTS_TOPIC, ACTIONS_TOPIC):
        line_for(topic, message.encode(), None)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid contract event of any type, with every optional text field sometimes present."""
    base: dict[str, Any] = {
        "patient_id": draw(st.from_regex(r"\A[A-Za-z0-9._-]{1,64}\Z")),
        "session_id": "pt-1-s1",
        "ts": draw(
            st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))  # noqa: DTZ001
        ).isoformat(),
    }
    for optional in ("event_id", "device_id"):
        if draw(st.booleans()):
            base[optional] = draw(st.text(min_size=1, max_size=128))
    kind = draw(st.sampled_from(["vitals", "symptom", "infusion", "profile"]))
    if kind == "vitals":
        return {"type": kind, **base, **draw(vitals_values())}
    if kind == "symptom":
        fields = draw(symptom_fields())
        if draw(st.booleans()):
            fields["note"] = draw(st.text(max_size=200))
        return {"type": kind, **base, **fields}
    if kind == "infusion":
        return {
            "type": kind,
            **base,
            "action": draw(st.sampled_from(["start", "rate_change"])),
            "rate_ml_per_h": draw(st.integers(0, 2000)),
            "product": draw(st.text(min_size=1, max_size=128)),
            "lot": draw(st.text(max_size=128)),
        }
    return {
        "type": kind,
        **base,
        "risk_factors": ["first_infusion"],
        "usual_product": draw(st.text(max_size=50)),
    }


@FUZZ
@given(valid_events())
def test_valid_events_parse_and_become_one_line_protocol_line(item: dict[str, Any]) -> None:
    raw = json.dumps(item).encode()
    parse_event(raw)
    parse_replay_line(raw)
    line = line_for(EVENTS_TOPIC, raw, item["patient_id"].encode())
    assert line is not None, "a valid event always has its point"
    # A newline may stay inside a quoted string field (InfluxDB 1.x keeps it), never in the key.
    assert "\n" not in line.split(" ", 1)[0]


MUTATIONS = st.sampled_from(
    ["drop", "retype", "marker_text", "marker_number", "truncate", "flip", "nest", "rekey"]
)


@FUZZ
@given(valid_events(), MUTATIONS, st.data())
def test_mutated_events_are_refused_by_field_without_quoting_the_value(
    item: dict[str, Any], mutation: str, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(item)))
    message: bytes | str
    if mutation == "drop":
        message = json.dumps({k: v for k, v in item.items() if k != name})
    elif mutation == "retype":
        message = json.dumps({**item, name: data.draw(JSON_VALUES)})
    elif mutation == "marker_text":
        message = json.dumps({**item, name: f"{MARKER} {data.draw(st.text(max_size=20))}"})
    elif mutation == "marker_number":
        message = json.dumps({**item, name: MARKER_NUMBER})
    elif mutation == "nest":
        message = json.dumps({**item, name: {"value": item[name]}})
    elif mutation == "rekey":
        message = json.dumps({**{k: v for k, v in item.items() if k != name}, name.upper() + "_": item[name]})
    else:
        encoded = json.dumps(item).encode()
        cut = data.draw(st.integers(0, len(encoded) - 1))
        if mutation == "truncate":
            message = encoded[:cut]
        else:
            message = (
                encoded[:cut] + bytes([encoded[cut] ^ data.draw(st.integers(1, 255))]) + encoded[cut + 1 :]
            )
    for parse in PARSERS:
        errors = " ".join(refusal_or_object(parse, message))
        assert MARKER not in errors and "987654" not in errors, f"an error quotes the input: {errors}"


@FUZZ
@given(
    st.sampled_from(["ack", "resolve", "note"]),
    st.sampled_from(["alert_id", "by", "note", "ts", "patient_id"]),
    JSON_VALUES,
)
def test_nurse_actions_with_any_field_value_parse_or_are_refused_clearly(
    kind: str, name: str, value: Any
) -> None:
    action = {
        "type": kind,
        "alert_id": "s1:fever:1",
        "patient_id": "pt-1",
        "by": "rn-1",
        "ts": "2026-11-24T10:15:00Z",
    }
    message = json.dumps({**action, name: value})
    if not refusal_or_object(parse_action, message):
        assert isinstance(parse_action(message), NurseAction)
    line_for(ACTIONS_TOPIC, message.encode(), b"pt-1")


def test_deep_nesting_and_calendar_edges_are_refusals_not_crashes() -> None:
    ts = "2026-11-24T10:15:00Z"
    cases = [
        b"[" * 30_000,
        b'{"a":' * 12_000 + b"1" + b"}" * 12_000,
        json.dumps(
            {
                "type": "vitals",
                "patient_id": "p",
                "session_id": "s",
                "ts": "0001-01-01T00:00:00+01:00",
                "spo2": 97,
            }
        ),
        json.dumps(
            {
                "type": "vitals",
                "patient_id": "p",
                "session_id": "s",
                "ts": "9999-12-31T23:59:59-23:59",
                "spo2": 97,
            }
        ),
        json.dumps(
            {"type": "ack", "alert_id": "x", "patient_id": "p", "by": "n", "ts": "0001-01-01T00:30:00+01:00"}
        ),
        json.dumps({"type": "vitals", "patient_id": "p", "session_id": "s", "ts": ts, "spo2": 1e400}),
        json.dumps({"type": "profile", "patient_id": "p", "ts": ts, "risk_factors": ["x"] * 5000}),
    ]
    for message in cases:
        for parse in PARSERS:
            assert refusal_or_object(parse, message), "must be refused"


@FUZZ
@given(st.binary(max_size=300_000), st.lists(st.text(max_size=500), max_size=60))
def test_dead_letter_records_always_build_and_fit_in_a_kafka_message(raw: bytes, errors: list[str]) -> None:
    source = SourcePosition(topic=EVENTS_TOPIC, partition=3, offset=12)
    record = DeadLetter.of(raw, errors, "validate", source, datetime.now(UTC))
    encoded = record.model_dump_json().encode()
    assert len(encoded) < 512 * 1024
    back = DeadLetter.model_validate_json(encoded)
    assert back.raw() == raw[:RAW_KEEP_BYTES]
    assert back.raw_size == len(raw) and back.raw_truncated == (len(raw) > RAW_KEEP_BYTES)
    assert back.errors and len(back.errors) <= 21


def test_a_one_megabyte_message_is_kept_truncated_with_its_size_and_digest() -> None:
    raw = b"x" * 1_000_000
    record = DeadLetter.of(
        raw,
        ["(message): too big [too_large]"],
        "validate",
        SourcePosition(topic="t", partition=0, offset=1),
        datetime.now(UTC),
    )
    assert len(record.model_dump_json()) < 400 * 1024
    assert record.raw_truncated and record.raw_size == 1_000_000
    assert record.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert record.raw() == raw[:RAW_KEEP_BYTES]


def test_the_writer_skips_an_event_the_rules_refuse_for_its_message_key() -> None:
    event = json.dumps(
        {"type": "vitals", "patient_id": "pt-1", "session_id": "s1", "ts": "2026-11-24T10:15:00Z", "spo2": 97}
    ).encode()
    assert line_for(EVENTS_TOPIC, event, b"pt-1") is not None
    assert line_for(EVENTS_TOPIC, event, b"pt-2") is None
    assert line_for(EVENTS_TOPIC, event, None) is None
