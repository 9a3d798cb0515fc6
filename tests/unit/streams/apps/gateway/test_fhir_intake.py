"""FHIR R4 vital-sign Observations mapped to contract vitals: each vital, units, the BP panel,
stable event ids, and refusals that point at the field without its value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streams.apps.fhir_export import LOINC, UCUM
from streams.apps.gateway.fhir_intake import fhir_events
from streams.apps.gateway.intake import Problem

WHEN = "2026-12-07T10:00:00+01:00"


def observation(code: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": extra.pop("id", f"obs-{code}"),
        "status": extra.pop("status", "final"),
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": extra.pop("when", WHEN),
        "valueQuantity": {"value": value, "system": UCUM, "code": unit},
        **extra,
    }


def mapped(body: object) -> list[dict[str, Any]]:
    out = fhir_events(json.dumps(body).encode(), "0123456789ab")
    assert not isinstance(out, Problem), out
    return out


@pytest.mark.parametrize(
    ("code", "value", "unit", "vital", "expected"),
    [
        ("8867-4", 72, "/min", "heart_rate", 72.0),
        ("9279-1", 16, "/min", "respiratory_rate", 16.0),
        ("8310-5", 37.2, "Cel", "temperature_c", 37.2),
        ("8310-5", 100.4, "[degF]", "temperature_c", 38.0),
        ("59408-5", 96, "%", "spo2", 96.0),
        ("2708-6", 95, "%", "spo2", 95.0),
        ("29463-7", 176.37, "[lb_av]", "weight_kg", 80.0),
        ("29463-7", 81500, "g", "weight_kg", 81.5),
        ("8480-6", 131, "mm[Hg]", "systolic_bp", 131.0),
    ],
)
def test_each_vital_and_unit(code: str, value: float, unit: str, vital: str, expected: float) -> None:
    (event,) = mapped(observation(code, value, unit))
    assert event["type"] == "vitals" and event["ts"] == WHEN
    assert event[vital] == pytest.approx(expected, abs=0.01)


def test_a_blood_pressure_panel_in_a_bundle_and_a_stable_id_from_the_identifier() -> None:
    panel = observation("85354-9", 0, "mm[Hg]", id="bp-1")
    del panel["valueQuantity"]
    panel["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            "valueQuantity": {"value": 128, "system": UCUM, "code": "mm[Hg]"},
        },
        {
            "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
            "valueQuantity": {"value": 79, "system": UCUM, "code": "mm[Hg]"},
        },
    ]
    panel["identifier"] = [{"system": "urn:hub:readings", "value": "r-77"}]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": panel}]}
    (event,) = mapped(bundle)
    assert (event["systolic_bp"], event["diastolic_bp"]) == (128.0, 79.0)
    again = mapped({**panel, "id": "another-id"})[0]
    assert again["event_id"] == event["event_id"], "the identifier, not the id, names a resent reading"
    other = fhir_events(json.dumps(panel).encode(), "ba9876543210")
    assert not isinstance(other, Problem) and other[0]["event_id"] != event["event_id"]


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"status": "preliminary"}, "/status"),
        ({"when": "2026-12-07"}, "/effectiveDateTime"),
        ({"code": {"coding": [{"system": LOINC, "code": "1234-5"}]}}, "/code"),
        ({"valueQuantity": {"value": 72, "system": UCUM, "code": "Hz"}}, "/valueQuantity/code"),
        ({"valueQuantity": {"value": "secret-72"}}, "/valueQuantity/value"),
    ],
)
def test_what_cannot_be_taken_is_refused_at_its_field_without_its_value(
    change: dict[str, Any], pointer: str
) -> None:
    body = {**observation("8867-4", 72, "/min"), **{k: v for k, v in change.items() if k != "when"}}
    if "when" in change:
        body["effectiveDateTime"] = change["when"]
    out = fhir_events(json.dumps(body).encode(), "0123456789ab")
    assert isinstance(out, Problem) and out.status == 422
    assert out.errors[0]["pointer"] == pointer
    assert "secret" not in json.dumps(out.body()) and "1234-5" not in json.dumps(out.body())


def test_an_observation_without_identifier_or_id_and_other_resources_are_refused() -> None:
    bare = observation("8867-4", 72, "/min")
    del bare["id"]
    out = fhir_events(json.dumps(bare).encode(), "0123456789ab")
    assert isinstance(out, Problem) and out.errors[0]["pointer"] == "/identifier"
    patient = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}
    out = fhir_events(json.dumps(patient).encode(), "0123456789ab")
    assert isinstance(out, Problem) and out.errors[0]["pointer"] == "/entry/0/resource/resourceType"
