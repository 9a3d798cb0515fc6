"""`ivigwatch export fhir` on the real InfluxDB: recorded sessions imported, exported, read back."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from typer.testing import CliRunner

from agents.rules.loader import load_rules
from streams.apps.cli.main import app
from streams.apps.fhir_export import LOINC, PATIENT_SYSTEM, UCUM, bundle_json
from streams.apps.influx_import import import_lines
from streams.apps.sessions import load_session
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration

LIBRARY = Path(__file__).parents[1] / "scenarios" / "library"
FILES = {  # together they hold every vital: full sets, and the weights of a renal-injury watch
    "pt-ctl-05-d1": LIBRARY / "control-full-sets.jsonl",
    "pt-ren-02-d1": LIBRARY / "renal-weight-gain-2kg.jsonl",
}
DB = "ivigwatch_fhir_test"
CODES = {  # stored name: (LOINC codes, UCUM code)
    "heart_rate": (("8867-4",), "/min"),
    "respiratory_rate": (("9279-1",), "/min"),
    "temperature_c": (("8310-5",), "Cel"),
    "spo2": (("2708-6", "59408-5"), "%"),
    "weight_kg": (("29463-7",), "kg"),
}


@pytest.fixture(scope="module")
def imported(live: Live) -> Settings:
    settings = live.settings.model_copy(update={"influx_db": DB})

    async def load() -> None:
        async with InfluxClient(settings, role="admin") as client:
            await client.ensure_database()
            for file in FILES.values():
                summary = await import_lines(client, file.read_text().splitlines(), load_rules())
                assert not summary.bad_lines

    asyncio.run(load())
    return settings


def expected(file: Path) -> set[tuple[Any, ...]]:
    """(time, LOINC codes, UCUM code, value) per value of the recorded file; BP as one panel."""
    out: set[tuple[Any, ...]] = set()
    for event in map(json.loads, file.read_text().splitlines()):
        if event["type"] != "vitals":
            continue
        ts = datetime.fromisoformat(event["ts"])
        out |= {(ts, *CODES[n], float(event[n])) for n in CODES if n in event}
        if "systolic_bp" in event:
            bp = (float(event["systolic_bp"]), float(event["diastolic_bp"]))
            out.add((ts, ("85354-9",), "mm[Hg]", bp))
    return out


def observed(bundle: Bundle) -> set[tuple[Any, ...]]:
    out: set[tuple[Any, ...]] = set()
    for entry in bundle.entry or []:
        o = entry.resource
        if not isinstance(o, Observation):
            continue
        assert o.effectiveDateTime is not None
        codes = tuple(c.code for c in o.code.coding or [] if c.system == LOINC)
        if o.component:
            assert o.valueQuantity is None and len(o.component) == 2
            parts = [c.valueQuantity for c in o.component]
            assert [[c.code for c in p.code.coding or []] for p in o.component] == [["8480-6"], ["8462-4"]]
            assert all(q is not None and q.system == UCUM and q.code == "mm[Hg]" for q in parts)
            values = tuple(float(q.value) for q in parts if q is not None and q.value is not None)
            out.add((o.effectiveDateTime, codes, "mm[Hg]", values))
        else:
            q = o.valueQuantity
            assert q is not None and q.system == UCUM and q.value is not None
            out.add((o.effectiveDateTime, codes, q.code, float(q.value)))
    return out


async def test_each_exported_session_validates_and_holds_every_reading(imported: Settings) -> None:
    async with InfluxClient(imported, role="reader") as client:
        records = {s: await load_session(client, s) for s in FILES}
    for session, file in FILES.items():
        record = records[session]
        text = bundle_json(record)
        bundle = Bundle.model_validate_json(text)  # parsed back by the library
        assert bundle.type == "collection"
        assert observed(bundle) == expected(file)
        data = json.loads(text)
        patient = data["entry"][0]
        assert patient["resource"]["identifier"] == [{"system": PATIENT_SYSTEM, "value": record.patient_id}]
        assert set(patient["resource"]) == {"resourceType", "id", "identifier"}
        for entry in data["entry"][1:]:
            subject = entry["resource"]["subject"]
            assert subject["reference"] == patient["fullUrl"]
            assert subject["identifier"]["value"] == record.patient_id
        assert "Gammagard" not in text and "LOT-" not in text  # product and lot stay out


def test_the_export_command_writes_the_same_bundle_twice_and_refuses_an_unknown_session(
    imported: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in imported.to_env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    first, second, missing = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "none.json"
    try:
        runner = CliRunner()
        one = runner.invoke(app, ["export", "fhir", "pt-ctl-05-d1", "--out", str(first)])
        two = runner.invoke(app, ["export", "fhir", "pt-ctl-05-d1", "--out", str(second)])
        unknown = runner.invoke(app, ["export", "fhir", "pt-nobody-d1", "--out", str(missing)])
    finally:
        get_settings.cache_clear()
    readings = sum('"vitals"' in line for line in FILES["pt-ctl-05-d1"].read_text().splitlines())
    assert one.exit_code == 0 and two.exit_code == 0, one.stderr + two.stderr
    # every reading of this file is a full set: 4 single values and one BP panel
    assert f"session pt-ctl-05-d1: {5 * readings} Observations from {readings} readings written" in one.stderr
    assert first.read_bytes() == second.read_bytes()
    bundle = Bundle.model_validate_json(first.read_text())
    assert sum(isinstance(e.resource, Observation) for e in bundle.entry or []) == 5 * readings
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == f"no session 'pt-nobody-d1' in InfluxDB database '{DB}'"
    assert not missing.exists()
