"""The FHIR export as pure data: a SessionRecord in, a vital-signs Bundle out, checked by the library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from typer.testing import CliRunner

from models.events import VITAL_NAMES
from streams.apps import fhir_export as fhir
from streams.apps.cli import export_cmd as export
from streams.apps.cli.main import app
from streams.apps.fhir_export import (
    BP_NAMES,
    LOINC,
    SINGLE_VALUES,
    UCUM,
    FhirExportError,
    build_bundle,
    bundle_json,
    observation_count,
)
from streams.apps.sessions import AlertRow, SessionRecord, SymptomRow, VitalsRow
from streams.infra.settings import get_settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UCUM_OF = {
    "8867-4": "/min",
    "9279-1": "/min",
    "8310-5": "Cel",
    "2708-6": "%",
    "29463-7": "kg",
    "8480-6": "mm[Hg]",
    "8462-4": "mm[Hg]",
}


def record(patient: str = "pt-ctl-05", session: str = "pt-ctl-05-d1") -> SessionRecord:
    full = {
        "heart_rate": 74.0,
        "systolic_bp": 124.0,
        "diastolic_bp": 78.0,
        "temperature_c": 36.8,
        "respiratory_rate": 20.5,
        "spo2": 98.0,
    }
    return SessionRecord(
        session_id=session,
        patient_id=patient,
        vitals=[
            VitalsRow(T0, full, device_id="hub-01"),
            VitalsRow(T0, {"heart_rate": 75.0, "spo2": 97.0}, device_id="oxi-01"),  # same time, other device
            VitalsRow(
                T0 + timedelta(minutes=5, milliseconds=250), {"systolic_bp": 131.0}, device_id="hub-01"
            ),
            VitalsRow(T0 + timedelta(days=1), {"weight_kg": 71.2}),
        ],
        symptoms=[SymptomRow(T0, "headache", "severe", 7.0)],
        alerts=[
            AlertRow(
                T0, "alert-xyz", "fever", "urgent", "firing", 0, "Fever after a rate step", "38.4 C", "x", "r"
            )
        ],
        profile={"weight_kg": 70.0, "usual_product": "Gammagard Liquid"},
    )


def observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def loinc(resource: dict[str, Any]) -> list[str]:
    return [c["code"] for c in resource["code"]["coding"] if c["system"] == LOINC]


def strings(value: Any) -> Iterator[tuple[str, str]]:
    """(key, text) of every string in a JSON document."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((key, v) for v in item)
        elif isinstance(item, str):
            yield key, item


def test_every_stored_vital_has_a_coding() -> None:
    assert set(SINGLE_VALUES) | set(BP_NAMES) == set(VITAL_NAMES)


def test_one_observation_per_value_with_loinc_and_ucum() -> None:
    bundle = json.loads(bundle_json(record()))
    Bundle.model_validate(bundle)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    obs = observations(bundle)
    assert len(obs) == observation_count(record()) == 5 + 2 + 1 + 1  # BP is one panel per reading
    by_code = sorted(loinc(o)[0] for o in obs)
    assert by_code.count("8867-4") == 2 and by_code.count("85354-9") == 2 and by_code.count("29463-7") == 1
    for o in obs:
        assert o["status"] == "final"
        assert o["category"][0]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }
        assert all(c["display"] for c in o["code"]["coding"])
        for q in [o.get("valueQuantity")] + [c.get("valueQuantity") for c in o.get("component", [])]:
            if q is not None:
                assert q["system"] == UCUM
        if "valueQuantity" in o:
            assert o["valueQuantity"]["code"] == UCUM_OF[loinc(o)[0]]
    first = {loinc(o)[0]: o for o in obs if o["effectiveDateTime"] == "2026-03-02T09:00:00Z"}
    assert first["8310-5"]["valueQuantity"] == {"value": 36.8, "unit": "C", "system": UCUM, "code": "Cel"}
    assert first["9279-1"]["valueQuantity"]["value"] == 20.5
    assert first["8867-4"]["valueQuantity"]["value"] in (74, 75)


def test_blood_pressure_is_one_panel_with_two_components_and_no_value() -> None:
    panels = [o for o in observations(json.loads(bundle_json(record()))) if loinc(o) == ["85354-9"]]
    assert len(panels) == 2
    for panel in panels:
        assert "valueQuantity" not in panel and len(panel["component"]) == 2
        assert [loinc(c) for c in panel["component"]] == [["8480-6"], ["8462-4"]]
        for component in panel["component"]:
            assert component.get("valueQuantity", {"code": "mm[Hg]"})["code"] == "mm[Hg]"
    full, systolic_only = panels
    assert [c["valueQuantity"]["value"] for c in full["component"]] == [124, 78]
    assert systolic_only["component"][0]["valueQuantity"]["value"] == 131
    absent = systolic_only["component"][1]
    assert "valueQuantity" not in absent and absent["dataAbsentReason"]["coding"][0]["code"] == "unknown"


def test_spo2_carries_both_codings() -> None:
    spo2 = [o for o in observations(json.loads(bundle_json(record()))) if "2708-6" in loinc(o)]
    assert len(spo2) == 2
    for o in spo2:
        assert loinc(o) == ["2708-6", "59408-5"]
        assert o["valueQuantity"]["code"] == "%" and o["meta"]["profile"][0].endswith("/oxygensat")


def test_the_subject_is_the_pseudonymous_patient_only() -> None:
    bundle = json.loads(bundle_json(record(patient="pt_ctl.05")))  # '_' is no FHIR id character
    patient = bundle["entry"][0]
    assert patient["resource"] == {
        "resourceType": "Patient",
        "id": patient["resource"]["id"],
        "identifier": [{"system": fhir.PATIENT_SYSTEM, "value": "pt_ctl.05"}],
    }
    assert patient["fullUrl"] == f"urn:uuid:{patient['resource']['id']}"
    for o in observations(bundle):
        assert o["subject"] == {
            "reference": patient["fullUrl"],
            "type": "Patient",
            "identifier": {"system": fhir.PATIENT_SYSTEM, "value": "pt_ctl.05"},
        }


def test_nothing_but_ids_codes_and_values_goes_in() -> None:
    rec = record()
    bundle = json.loads(bundle_json(rec))
    ids = {rec.patient_id, rec.session_id, "hub-01", "oxi-01"}
    fixed = {
        "Bundle", "collection", "Patient", "Observation", "Encounter", "Device", "final", "Vital Signs",
        "vital-signs", "unknown", "Unknown", "beats/minute", "breaths/minute", "C", "%", "kg", "mmHg",
    }  # fmt: skip
    codes = {c.code for v in (*SINGLE_VALUES.values(), fhir.SYSTOLIC, fhir.DIASTOLIC) for c in v.codes}
    displays = {c.display for v in (*SINGLE_VALUES.values(), fhir.SYSTOLIC, fhir.DIASTOLIC) for c in v.codes}
    codes |= {fhir.BP_PANEL.code} | {v.ucum for v in SINGLE_VALUES.values()} | {"mm[Hg]"}
    displays.add(fhir.BP_PANEL.display)
    for key, text in strings(bundle):
        if key in ("id", "reference", "fullUrl"):
            assert text.removeprefix("urn:uuid:").count("-") == 4, (key, text)
        elif key in ("system", "profile"):
            assert text.startswith(("http://", "urn:ivigwatch:")), (key, text)
        elif key == "effectiveDateTime":
            datetime.fromisoformat(text)
        else:
            assert text in ids | fixed | codes | displays, (key, text)
    text = json.dumps(bundle)
    for private in ("headache", "Fever", "38.4", "Gammagard", "alert-xyz"):
        assert private not in text


def test_a_re_export_is_identical_and_ids_are_unique() -> None:
    first, second = bundle_json(record()), bundle_json(record())
    assert first == second
    bundle = json.loads(first)
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert len(ids) == len(set(ids))
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"urn:uuid:{i}" for i in ids]
    other = json.loads(bundle_json(record(session="pt-ctl-05-d2")))
    assert not set(ids[1:]) & {e["resource"]["id"] for e in other["entry"]}
    assert other["entry"][0] == bundle["entry"][0], "the same patient is the same Patient entry"


def test_a_session_without_readings_is_the_patient_alone() -> None:
    empty = SessionRecord(session_id="s-1", patient_id="pt-1")
    bundle = json.loads(bundle_json(empty))
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]
    assert observation_count(empty) == 0


def test_a_bundle_that_does_not_validate_is_an_error_naming_the_field() -> None:
    with pytest.raises(
        FhirExportError, match=r"session s-1: the FHIR bundle does not validate: value: "
    ) as exc:
        build_bundle(SessionRecord("s-1", "", vitals=[VitalsRow(T0, {"heart_rate": 70.0})]))
    assert "\n" not in str(exc.value)


def test_the_profile_checks_catch_what_the_models_let_through() -> None:
    bundle = build_bundle(record())
    assert fhir.vital_signs_problems(bundle) == []
    data = json.loads(bundle.model_dump_json())
    obs = data["entry"][1]["resource"]
    obs["status"] = "bogus"  # the models do not check required codes
    panel = next(e["resource"] for e in data["entry"] if "component" in e["resource"])
    panel["valueQuantity"] = {"value": 1, "system": UCUM, "code": "mm[Hg]"}
    problems = fhir.vital_signs_problems(Bundle.model_validate(data))
    assert any("status is not final" in p for p in problems)
    assert any("BP panel needs 2 components and no value" in p for p in problems)


# --- the command line, with the session loaded from a stub (the real InfluxDB: tests/integration) ---

runner = CliRunner()


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> SessionRecord:
    rec = record()

    async def load(settings: object, session_id: str) -> SessionRecord:
        return rec

    monkeypatch.setattr(export, "_load", load)
    return rec


def test_export_writes_the_file_and_says_what_it_wrote(stored: SessionRecord, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    result = runner.invoke(app, ["export", "fhir", stored.session_id, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text() == bundle_json(stored) and result.stdout == ""
    assert f"session {stored.session_id}: 9 Observations from 4 readings written to {out}" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"]
    to_stdout = runner.invoke(app, ["export", "fhir", stored.session_id])
    assert to_stdout.exit_code == 0 and to_stdout.stdout == out.read_text()


def test_export_writes_nothing_when_the_bundle_does_not_validate(
    stored: SessionRecord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(rec: SessionRecord) -> str:
        raise FhirExportError(f"session {rec.session_id}: the FHIR bundle does not validate: status: ...")

    monkeypatch.setattr(export, "bundle_json", broken)
    out = tmp_path / "bundle.json"
    result = runner.invoke(app, ["export", "fhir", stored.session_id, "--out", str(out)])
    assert result.exit_code == 1
    assert "does not validate" in result.stderr and "nothing written" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_export_with_influxdb_unreachable_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVIGWATCH_INFLUX_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["export", "fhir", "pt-1-d1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.stderr.startswith("InfluxDB unreachable at http://127.0.0.1:9")
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_refuses_an_id_that_is_not_a_pseudonym() -> None:
    result = runner.invoke(app, ["export", "fhir", "x' OR 1=1 --"])
    assert result.exit_code == 2
    assert "not a valid session id" in result.stderr
