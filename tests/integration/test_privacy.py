"""No patient value in any log line or error text: the pipeline runs with recognisable markers.

Readings, a symptom note and a nurse note carry marker values; some invalid messages carry markers
too. After the rules and writer workers (on the shared secured stack) and a few CLI calls have
handled them, every log file under the state dir, the CLI's stderr and the dead-letter records'
error texts are searched: no marker may appear there, while the dead-letter records still hold the
raw message, and InfluxDB holds the values. The generated passwords must not appear either.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy import local_secrets
from deploy.processes import http_request
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
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

TEMPERATURE = 39.8713
SYSTOLIC = 83.17
PULSE = 131.77
TEXT = "Zq7privacyMARKER"
NUMBERS = ("39.8713", "83.17", "131.77", "99.8713", "283.17")
MARKERS = (*NUMBERS, TEXT, TEXT.lower())
DATA_DIRS = ("kafka/data", "influxdb/data", "influxdb/wal", "influxdb/meta")  # stored data, not logs


def marked_session(patient: str) -> list[dict[str, Any]]:
    """A session whose readings and notes carry the markers; it raises a fever and hypotension."""
    return [
        event(patient, 0, type="profile", risk_factors=[], epinephrine_available=True),
        event(patient, 0, type="vitals", heart_rate=72, systolic_bp=122, temperature_c=36.6, spo2=98),
        event(patient, 1, type="infusion", action="start", rate_ml_per_h=60, product="Privigen"),
        event(patient, 2, type="vitals", heart_rate=PULSE, systolic_bp=SYSTOLIC, temperature_c=TEMPERATURE),
        event(patient, 3, type="symptom", symptom="other", severity="moderate", note=f"feels odd {TEXT}"),
    ]


def invalid_messages(patient: str) -> list[tuple[bytes, bytes]]:
    """Messages that break the contract, each carrying a marker in the offending value."""
    key = patient.encode()
    bad = [
        event(patient, 4, type="vitals", temperature_c=99.8713),  # out of range
        event(patient, 4, type="vitals", systolic_bp=283.17, diastolic_bp=290),  # diastolic above systolic
        event(patient, 4, type="vitals", heart_rate=TEXT),  # wrong type
        event(patient, 4, type="symptom", symptom=TEXT, severity="mild"),  # not a known symptom
        event(patient, 4, type=TEXT),  # unknown event type
    ]
    raw = [json.dumps(item).encode() for item in bad]
    raw.append(f'{{"patient_id": "{patient}", "temperature_c": 39.8713, {TEXT}'.encode())  # not JSON
    raw.append(TEXT.encode() + b"\xff\xfe")  # not UTF-8
    return [(key, value) for value in raw]


def log_files(state_dir: Path) -> list[Path]:
    """Every log file of the stack and the workers under the state dir (server data excluded)."""
    data = [state_dir / d for d in DATA_DIRS]
    return [
        path
        for path in state_dir.rglob("*")
        if path.is_file()
        and (".log" in path.name or path.parent.name == "logs")
        and not any(path.is_relative_to(d) for d in data)
    ]


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env(), "IVIGWATCH_NURSE_ID": "rn-privacy"}
    return subprocess.run(
        [sys.executable, "-m", "streams.apps.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def generated_passwords(settings: Settings) -> list[str]:
    logins = local_secrets.read_logins(settings)
    return [user["password"] for group in logins.values() for user in group.values()]


async def test_no_patient_value_in_any_log_line_or_error_text(
    live: Live, collector: Collector, tmp_path: Path
) -> None:
    settings = live.settings
    patient = new_patient()
    session = f"{patient}-s1"
    invalid = invalid_messages(patient)
    await produce(settings, EVENTS_TOPIC, [as_message(e) for e in marked_session(patient)] + invalid)

    fever = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["patient_id"] == patient and m["condition"] == "fever", timeout=60
    )
    assert fever, "the marked fever raised no alert"

    def ours(letter: dict[str, Any]) -> bool:
        raw = base64.b64decode(letter["raw_base64"])
        return patient.encode() in raw or raw.startswith(TEXT.encode())

    letters = await collector.wait_for(DEADLETTER_TOPIC, ours, count=len(invalid), timeout=60)
    raws = {base64.b64decode(m["raw_base64"]) for m in letters}
    assert {value for _, value in invalid} <= raws, "a refused message is missing from the dead letters"
    for letter in letters:
        assert letter["errors"], "a dead letter without a reason"
        for marker in MARKERS:
            assert marker not in json.dumps(letter["errors"]), f"dead-letter reason shows {marker}"

    # a nurse acts with a note carrying the marker; the note travels as data, never into a log
    alert_id = fever[0]["alert_id"]
    ack = run_cli(settings, "ack", alert_id, "--patient", patient, "--note", f"called back {TEXT}")
    assert ack.returncode == 0, ack.stderr
    acked = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == alert_id and m["status"] == "acknowledged", timeout=60
    )
    assert acked, "the acknowledgement did not come back"
    rows = await wait_for_points(
        settings, f"SELECT temperature_c FROM vitals WHERE patient_id = '{patient}' AND temperature_c > 39", 1
    )
    assert rows and rows[0][1] == TEMPERATURE, "the marked reading is not in InfluxDB"
    await wait_for_points(settings, f"SELECT note FROM nurse_actions WHERE patient_id = '{patient}'", 1)

    outputs = {
        "timeline": run_cli(settings, "query", "timeline", session),
        "fhir": run_cli(settings, "export", "fhir", session, "--out", str(tmp_path / "bundle.json")),
        "bad influxql": run_cli(
            settings, "query", "--influxql", f"SELECT * FROM vitals WHERE temperature_c = {TEMPERATURE} AND"
        ),
        "write refused": run_cli(
            settings, "query", "--influxql", f"SELECT temperature_c INTO c FROM vitals WHERE note = '{TEXT}'"
        ),
    }
    assert outputs["timeline"].returncode == 0, outputs["timeline"].stderr  # data on stdout only
    assert outputs["fhir"].returncode == 0, outputs["fhir"].stderr
    assert outputs["bad influxql"].returncode != 0
    assert outputs["write refused"].returncode != 0

    texts: dict[str, str] = {f"stderr of {name}": out.stderr for name, out in outputs.items()}
    texts["stderr of ack"] = ack.stderr
    files = log_files(settings.state_dir)
    names = {path.name for path in files}
    assert {"worker-rules.log", "worker-writer.log", "broker.log", "influxd.log"} <= names, names
    for path in files:
        texts[str(path.relative_to(settings.state_dir))] = path.read_text(errors="replace")
    secrets = generated_passwords(settings)
    for where, text in texts.items():
        for marker in MARKERS:  # pseudonymous ids may appear; values and free text may not
            assert marker not in text, f"{marker!r} appears in {where}"
        for secret in secrets:
            assert secret not in text, f"a generated password appears in {where}"


async def test_influxdb_statistics_pages_show_no_patient_value(live: Live) -> None:
    """InfluxDB 1.6 serves /debug/vars, /debug/requests and /metrics without a login (SECURITY.md): a
    marked reading just written appears in none of them, nor does its patient's id."""
    settings = live.settings
    patient = new_patient()
    line = f'privacy_probe,patient_id={patient} temperature_c={TEMPERATURE},note="{TEXT}"'
    async with InfluxClient(settings, role="writer") as writer:
        assert (await writer.write_once([line])).written == 1
    for path in ("/debug/vars", "/debug/requests?seconds=1", "/metrics"):
        status, body = http_request(f"{settings.influx_base_url}{path}", timeout=15.0)
        text = body.decode(errors="replace")
        for marker in (*MARKERS, patient):
            assert marker not in text, f"{marker!r} appears in {path} (HTTP {status})"
