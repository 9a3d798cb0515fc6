"""FHIR R4 vital-sign Observations, as device hubs and phone health apps export them, mapped to
contract `vitals` events (pure).

A body is one Observation or a Bundle of them. Each must be `final`, `amended` or `corrected`, timed
by `effectiveDateTime` or `effectiveInstant` with an offset, LOINC-coded (the codes of the FHIR
export: heart rate, respiratory rate, body temperature, SpO2, body weight, systolic and diastolic
pressure, and the blood-pressure panel with its two components) and valued in UCUM units
(temperatures in Cel or [degF], weights in kg, g or [lb_av]). The event id is derived from the
credential and the Observation's first identifier (else its id), so a resent Observation is the
same event. What cannot be mapped is refused with a pointer into the body, never a value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.quantity import Quantity
from pydantic import ValidationError

from streams.apps.fhir_export import BP_PANEL, BP_PARTS, LOINC, SINGLE_VALUES, UCUM
from streams.apps.gateway.intake import Problem

TAKEN_STATUSES = frozenset({"final", "amended", "corrected"})
VITAL_OF_CODE: dict[str, str] = {
    code.code: name for name, coding in (*SINGLE_VALUES.items(), *BP_PARTS) for code in coding.codes
}
"""LOINC code -> contract vital (the FHIR export's codings, read the other way)."""
Convert = Callable[[Decimal], float]
UNITS: dict[str, dict[str, Convert]] = {
    "heart_rate": {"/min": float, "{beats}/min": float},
    "respiratory_rate": {"/min": float, "{breaths}/min": float},
    "temperature_c": {"Cel": float, "[degF]": lambda f: round((float(f) - 32.0) * 5.0 / 9.0, 2)},
    "spo2": {"%": float},
    "weight_kg": {
        "kg": float,
        "g": lambda g: float(g) / 1000.0,
        "[lb_av]": lambda lb: float(lb) * 0.45359237,
    },
    "systolic_bp": {"mm[Hg]": float},
    "diastolic_bp": {"mm[Hg]": float},
}
"""Per vital, the UCUM codes taken and how each converts to the contract's unit."""


class _Refused(Exception):
    def __init__(self, pointer: str, detail: str) -> None:
        self.pointer, self.detail = pointer, detail


def fhir_events(body: bytes, credential_id: str) -> list[dict[str, Any]] | Problem:
    """The contract `vitals` events (without `patient_id`) of a body, or the problem refusing it."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return Problem(400, "malformed", "The body is not JSON")
    if not isinstance(data, dict):
        return Problem(422, "invalid-fhir", "Expected an Observation or a Bundle")
    if data.get("resourceType") == "Bundle":
        entries = data.get("entry") or []
        resources = [
            (f"/entry/{i}/resource", e.get("resource") if isinstance(e, dict) else None)
            for i, e in enumerate(entries)
        ]
    else:
        resources = [("", data)]
    events: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for pointer, resource in resources:
        try:
            events.append(_event(resource, pointer, credential_id))
        except _Refused as refused:
            errors.append({"pointer": refused.pointer or "/", "detail": refused.detail})
    if errors:
        return Problem(422, "invalid-fhir", "Some Observations cannot be taken", tuple(errors))
    if not events:
        return Problem(422, "empty-batch", "The Bundle holds no Observation")
    return events


def _event(resource: object, pointer: str, credential_id: str) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        raise _Refused(f"{pointer}/resourceType", "expected an Observation")
    try:
        observation = Observation.model_validate(resource)
    except ValidationError as exc:
        where = "/".join(str(part) for part in exc.errors()[0]["loc"])
        raise _Refused(f"{pointer}/{where}", "not valid FHIR R4 (the field's type or value)") from None
    if observation.status not in TAKEN_STATUSES:
        raise _Refused(f"{pointer}/status", f"must be one of {sorted(TAKEN_STATUSES)}")
    when = observation.effectiveDateTime or observation.effectiveInstant
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise _Refused(f"{pointer}/effectiveDateTime", "required: a date and time with an offset")
    values = _values(observation, pointer)
    key = _source_key(observation, pointer)
    event_id = "fhir-" + hashlib.sha256(f"{credential_id}|{key}".encode()).hexdigest()[:32]
    ts = when.isoformat().replace("+00:00", "Z")
    return {"type": "vitals", "event_id": event_id, "ts": ts, "device_id": f"fhir-{credential_id}", **values}


def _values(observation: Observation, pointer: str) -> dict[str, float]:
    codes = _loinc(observation.code.coding if observation.code else None)
    if BP_PANEL.code in codes:
        values: dict[str, float] = {}
        for i, component in enumerate(observation.component or []):
            name = _vital(_loinc(component.code.coding), f"{pointer}/component/{i}/code")
            values[name] = _quantity(component, name, f"{pointer}/component/{i}/valueQuantity")
        if not values:
            raise _Refused(f"{pointer}/component", "a blood-pressure panel needs its components")
        return values
    name = _vital(codes, f"{pointer}/code")
    return {name: _quantity(observation, name, f"{pointer}/valueQuantity")}


def _loinc(codings: list[Any] | None) -> list[str]:
    return [c.code for c in codings or [] if c.system == LOINC and c.code]


def _vital(codes: list[str], pointer: str) -> str:
    for code in codes:
        if code in VITAL_OF_CODE:
            return VITAL_OF_CODE[code]
    raise _Refused(pointer, "no LOINC code of a vital sign this contract carries")


def _quantity(holder: Observation | ObservationComponent, name: str, pointer: str) -> float:
    quantity: Quantity | None = holder.valueQuantity
    if quantity is None or quantity.value is None:
        raise _Refused(pointer, "required: a valueQuantity with a value")
    if quantity.system not in (None, UCUM) or quantity.code not in UNITS[name]:
        raise _Refused(f"{pointer}/code", f"a UCUM code of {sorted(UNITS[name])}")
    return UNITS[name][quantity.code](quantity.value)


def _source_key(observation: Observation, pointer: str) -> str:
    for identifier in observation.identifier or []:
        if identifier.value:
            return f"identifier|{identifier.system or ''}|{identifier.value}"
    if observation.id:
        return f"id|{observation.id}"
    raise _Refused(f"{pointer}/identifier", "required: an identifier or id (a resend is recognised by it)")
