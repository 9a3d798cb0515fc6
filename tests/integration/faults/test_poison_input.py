"""Malformed messages (10,000 in the soak, 4,000 in CI) mixed into valid traffic: each is
dead-lettered with a reason, the rule worker stays up, and the valid events give exactly the
alerts and points they give on their own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.rules.loader import load_rules
from models.alerts import Alert
from streams.apps.replay import replay
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from streams.infra.sinks.influx.influx_client import InfluxClient
from tests.integration.faults.io_support import Stack, env_seconds, fault_stack, watching

pytestmark = pytest.mark.integration

POISON_COUNT = int(env_seconds("IVIGWATCH_TEST_POISON_COUNT", 4_000))
"""CI mixes 4,000 malformed messages in; the soak (`IVIGWATCH_TEST_POISON_COUNT=10000`) the issue's 10,000."""
HUGE_BYTES = 1_000_000
"""Close to the broker's default limit (message.max.bytes 1,048,588)."""
ERROR_LINE = re.compile(r"^\S+: .+ \[[a-z0-9_]+\]$")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with fault_stack(tmp_path) as started:
        yield started


def valid_traffic(prefix: str) -> list[dict[str, Any]]:
    """Twelve patients: readings that raise fever, tachycardia or hypoxemia, or nothing, a symptom each."""
    start = datetime.now(UTC)
    special = [{"temperature_c": 38.7}, {"heart_rate": 142}, {"spo2": 87}, {}]
    events: list[dict[str, Any]] = []
    for number in range(12):
        patient = f"{prefix}-ok{number}"
        base = {"patient_id": patient, "session_id": f"{patient}-s1"}
        for step in range(4):
            values = {
                "heart_rate": 74 + step,
                "spo2": 97,
                "temperature_c": 36.8,
                **(special[number % 4] if step == 3 else {}),
            }
            at = start + timedelta(seconds=number + 20 * step)
            events.append({"type": "vitals", **base, "ts": _ts(at), **values})
        events.append(
            {
                "type": "symptom",
                **base,
                "ts": _ts(start + timedelta(seconds=90 + number)),
                "symptom": "headache",
                "severity": "mild",
                "score": 3,
            }
        )
    return events


def _ts(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def poison(prefix: str, rng: random.Random) -> list[tuple[bytes | None, bytes, str]]:
    """(key, value, kind) of POISON_COUNT messages that break the contract in every way we know
    (per 10,000: 2,000 truncated JSON, 2,000 wrong types, 1,000 invalid UTF-8, ..., 20 of ~1 MB)."""
    ts = _ts(datetime.now(UTC))
    good = {
        "type": "vitals",
        "patient_id": f"{prefix}-px0",
        "session_id": "s1",
        "ts": ts,
        "heart_rate": 80,
        "spo2": 97,
    }
    wrong_types: list[dict[str, Any]] = [
        {**good, "heart_rate": "fast"},
        {**good, "ts": 1_700_000_000},
        {**good, "patient_id": 5},
        {**good, "type": "vitalz"},
        {**good, "spo2": 101},
        {**good, "systolic_bp": 90, "diastolic_bp": 120},
        {**good, "ts": "yesterday"},
        {**good, "ts": "2026-11-24T10:15:00"},
        {**good, "type": "symptom", "symptom": "sneeze", "severity": "mild"},
        {**good, "type": "infusion", "action": "start"},
        {**good, "type": "profile", "risk_factors": "renal"},
        {**good, "patient_id": "Jane Doe"},
        {**good, "heart_rate": [80]},
        {**good, "on_oxygen": "maybe"},
    ]
    out: list[tuple[bytes | None, bytes, str]] = []

    def n(count_of_10k: int) -> int:
        return max(1, round(count_of_10k * POISON_COUNT / 10_000))

    def key(i: int) -> bytes:
        return f"{prefix}-px{i % 40}".encode()

    def add(count: int, kind: str, make: Any) -> None:
        for i in range(count):
            k, v = make(i)
            out.append((k, v, kind))

    add(
        n(2000),
        "truncated_json",
        lambda i: (
            key(i),
            (s := json.dumps({**good, "patient_id": key(i).decode()}).encode())[: rng.randint(0, len(s) - 1)],
        ),
    )
    add(
        n(2000),
        "wrong_types",
        lambda i: (
            key(i),
            json.dumps(
                {**wrong_types[i % len(wrong_types)], "patient_id": key(i).decode()}
                if i % len(wrong_types) not in (2, 11)
                else wrong_types[i % len(wrong_types)]
            ).encode(),
        ),
    )
    add(
        n(600),
        "misspelled_key",
        lambda i: (
            key(i),
            json.dumps(
                {
                    k: v
                    for k, v in {**good, "patient_id": key(i).decode(), "heart_rat": 80, "sp02": 97}.items()
                    if k not in ("heart_rate", "spo2")
                }
            ).encode(),
        ),
    )
    add(
        n(600),
        "wrong_message_key",
        lambda i: (
            b"someone-else" if i % 2 else None,
            json.dumps({**good, "patient_id": key(i).decode()}).encode(),
        ),
    )
    add(
        n(1000),
        "invalid_utf8",
        lambda i: (
            key(i),
            json.dumps({**good, "patient_id": key(i).decode(), "device_id": "cuff-XX"})
            .encode()
            .replace(b"XX", bytes([0xFF, 0xC3 + i % 8])),
        ),
    )
    add(
        n(300),
        "not_an_object",
        lambda i: (key(i), [b"[]", b"null", b"42", b'"vitals"', b"[{}]", b"true"][i % 6]),
    )
    add(
        n(400),
        "deep_nesting",
        lambda i: (
            key(i),
            b"[" * 20_000 + b"]" * 20_000 if i % 2 else b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        ),
    )
    add(n(100), "nesting_100k", lambda i: (key(i), b"[" * 100_000 + b"]" * 100_000))
    add(
        n(180),
        "large",
        lambda i: (key(i), json.dumps({**good, "note": "x" * rng.randint(70_000, 600_000)}).encode()),
    )
    add(n(20), "huge", lambda i: (key(i), json.dumps({**good, "note": "x" * (HUGE_BYTES - 200)}).encode()))
    add(POISON_COUNT - len(out), "random_bytes", lambda i: (key(i), rng.randbytes(rng.randint(1, 400))))
    return out


async def test_malformed_messages_are_dead_lettered_with_a_reason_and_valid_ones_still_alert(
    stack: Stack,
) -> None:
    settings, workers = stack
    rules = workers["rules"]
    prefix = f"pz{random.randrange(16**6):06x}"
    rng = random.Random(20261124)
    valid = valid_traffic(prefix)
    bad = poison(prefix, rng)
    mixed: list[tuple[bytes | None, bytes, str]] = list(bad)
    rng.shuffle(mixed)
    step = len(mixed) // (len(valid) + 1)
    for n, item in enumerate(valid):  # in order, spread through the poison
        mixed.insert((n + 1) * step + n, (item["patient_id"].encode(), json.dumps(item).encode(), "valid"))

    async with watching(settings) as watch:
        started = time.time()
        producer = kafka_clients.producer(
            settings, acks="all", linger_ms=20, max_request_size=HUGE_BYTES + 48_000
        )
        await producer.start()
        try:
            futures = [
                (kind, value, await producer.send(EVENTS_TOPIC, value, key=key)) for key, value, kind in mixed
            ]
            positions = {}
            for kind, value, fut in futures:
                meta = await fut
                if kind != "valid":
                    positions[(meta.partition, meta.offset)] = (kind, value)
        finally:
            await producer.stop()
        produced = time.time()

        dead = await watch.wait_for(DEADLETTER_TOPIC, lambda m: True, count=POISON_COUNT, timeout=240)
        records = [m for _, m in dead]
        by_position = {(m["source"]["partition"], m["source"]["offset"]): m for m in records}
        assert len(records) == POISON_COUNT, f"{len(records)} of {POISON_COUNT} dead-lettered"
        assert set(by_position) == set(positions), "each malformed message once, none of the valid ones"
        codes: dict[str, set[str]] = {}
        for position, (kind, value) in positions.items():
            record = by_position[position]
            assert record["errors"] and all(ERROR_LINE.match(e) for e in record["errors"]), record["errors"]
            raw = base64.b64decode(record["raw_base64"])
            assert raw == value[: len(raw)] and record["raw_size"] == len(value)
            assert record["raw_sha256"] == hashlib.sha256(value).hexdigest()
            assert record["raw_truncated"] == (len(raw) < len(value))
            codes.setdefault(kind, set()).update(e.rsplit("[", 1)[1].rstrip("]") for e in record["errors"])
        print("\nreasons by kind:", {k: sorted(v) for k, v in sorted(codes.items())})
        assert codes["huge"] == {"too_large"} and codes["nesting_100k"] == {"too_large"}
        assert codes["invalid_utf8"] == {"utf8_invalid"} and codes["wrong_message_key"] == {"key_mismatch"}
        assert "Jane" not in json.dumps(records), "a refusal must not quote the value"

        expected = sorted(
            (a.alert_id, a.status.value, a.severity.value)
            for a in replay([json.dumps(e) for e in valid], load_rules())
            if isinstance(a, Alert)
        )
        assert expected, "the valid traffic must raise alerts"
        got = await watch.wait_for(
            ALERTS_TOPIC, lambda m: m["patient_id"].startswith(prefix), len(expected), 60
        )
        await asyncio.sleep(2)  # nothing more may follow
        got = [(at, m) for at, m in watch.records[ALERTS_TOPIC] if m["patient_id"].startswith(prefix)]
        print(
            f"produced {len(mixed)} messages in {produced - started:.1f}s; all {POISON_COUNT} dead-lettered "
            f"{max(at for at, _ in dead) - started:.1f}s after the first send; last valid alert "
            f"{max(at for at, _ in got) - produced:.1f}s after the last send"
        )
        assert sorted((m["alert_id"], m["status"], m["severity"]) for _, m in got) == expected

    assert await points_per_patient(settings, prefix) == expected_points(valid)
    assert rules.process.poll() is None, "the rule worker must survive poison"
    health = rules.health()
    assert health is not None and health["counts"]["deadletter"] == POISON_COUNT, health


MEASUREMENT_FIELD = {"vitals": "spo2", "symptoms": "reported"}


async def points_per_patient(settings: Any, prefix: str) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    deadline = asyncio.get_running_loop().time() + 60
    async with InfluxClient(settings, role="reader") as client:
        while True:
            for measurement, field_name in MEASUREMENT_FIELD.items():
                series = await client.query(
                    f'SELECT COUNT("{field_name}") FROM "{measurement}" '
                    f'WHERE "patient_id" =~ /^{prefix}-/ GROUP BY "patient_id"'
                )
                for s in series:
                    counts[(measurement, s["tags"]["patient_id"])] = int(s["values"][0][1])
            if sum(counts.values()) >= 60 or asyncio.get_running_loop().time() > deadline:
                return counts
            await asyncio.sleep(1)


def expected_points(valid: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for item in valid:
        key = ("vitals" if item["type"] == "vitals" else "symptoms", item["patient_id"])
        counts[key] = counts.get(key, 0) + 1
    return counts
