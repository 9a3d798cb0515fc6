"""One session's vital signs as a FHIR Bundle (type `collection`) of vital-signs Observations.

Pure: a `SessionRecord` in, the bundle out. The resources are built with the `fhir.resources`
models of FHIR R4B (4.3.0): the package's default models are R5, it ships no plain R4 package, and
R4B's Bundle, Observation and Patient are the R4 ones for every element used here. The coding
follows docs/clinical-reference.md section 6 and the FHIR vital-signs profiles:

- one Observation per measured value, status `final`, category `vital-signs`, LOINC code with its
  display, `effectiveDateTime`, `valueQuantity` in UCUM (`/min`, `mm[Hg]`, `Cel`, `%`, `kg`);
- blood pressure as one panel 85354-9 with systolic 8480-6 and diastolic 8462-4 components and no
  top-level value (a missing half is a component with `dataAbsentReason`);
- SpO2 with both codings, 2708-6 (FHIR core) and 59408-5 (US Core).

Nothing but pseudonymous ids, codes and values goes in: the subject is a Patient entry that
carries only the pseudonymous id as an identifier, and the session and device are identifiers too.
Resource ids are UUIDv5 of the session, device, time and code, so a re-export is byte-identical.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from models.events import VITAL_NAMES
from streams.apps.sessions import SessionRecord, VitalsRow

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"

PATIENT_SYSTEM = "urn:ivigwatch:patient-id"
"""Identifier system of the contract's pseudonymous patient ids (never a name or record number)."""
SESSION_SYSTEM = "urn:ivigwatch:session-id"
DEVICE_SYSTEM = "urn:ivigwatch:device-id"

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:ivigwatch:fhir")


class FhirExportError(ValueError):
    """The bundle does not validate: nothing may be written. The message names fields, never values."""


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class VitalCoding:
    """How one stored vital is coded: LOINC code(s), UCUM code, unit text, vital-signs profile."""

    codes: tuple[Code, ...]
    ucum: str
    unit: str
    profile: str
    integral: bool = True
    """Whole-number quantities (rates, pressures, %) are written without a trailing `.0`."""


HEART_RATE = VitalCoding((Code("8867-4", "Heart rate"),), "/min", "beats/minute", "heartrate")
RESPIRATORY_RATE = VitalCoding((Code("9279-1", "Respiratory rate"),), "/min", "breaths/minute", "resprate")
BODY_TEMPERATURE = VitalCoding((Code("8310-5", "Body temperature"),), "Cel", "C", "bodytemp", False)
OXYGEN_SATURATION = VitalCoding(
    (
        Code("2708-6", "Oxygen saturation in Arterial blood"),
        Code("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
    ),
    "%",
    "%",
    "oxygensat",
)
BODY_WEIGHT = VitalCoding((Code("29463-7", "Body weight"),), "kg", "kg", "bodyweight", False)
BP_PANEL = Code("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = VitalCoding((Code("8480-6", "Systolic blood pressure"),), "mm[Hg]", "mmHg", "bp")
DIASTOLIC = VitalCoding((Code("8462-4", "Diastolic blood pressure"),), "mm[Hg]", "mmHg", "bp")

SINGLE_VALUES: dict[str, VitalCoding] = {
    "heart_rate": HEART_RATE,
    "respiratory_rate": RESPIRATORY_RATE,
    "temperature_c": BODY_TEMPERATURE,
    "spo2": OXYGEN_SATURATION,
    "weight_kg": BODY_WEIGHT,
}
"""Stored vital name -> its coding; systolic_bp and diastolic_bp go together into the BP panel."""
BP_PARTS = (("systolic_bp", SYSTOLIC), ("diastolic_bp", DIASTOLIC))
BP_NAMES = tuple(name for name, _ in BP_PARTS)


def observation_count(record: SessionRecord) -> int:
    """How many Observations the bundle of this record holds: one per value, one per BP panel."""
    return sum(
        sum(name in row.values for name in SINGLE_VALUES) + any(n in row.values for n in BP_NAMES)
        for row in record.vitals
    )


def build_bundle(record: SessionRecord) -> Bundle:
    """The session's readings as a validated collection Bundle (raises FhirExportError): first the
    Patient (only its pseudonymous identifier), then the Observations in time order."""
    try:
        pseudonym = Identifier(system=PATIENT_SYSTEM, value=record.patient_id)
        patient = Patient(id=_uuid(f"Patient|{record.patient_id}"), identifier=[pseudonym])
        patient_url = f"urn:uuid:{patient.id}"
        entries = [BundleEntry(fullUrl=patient_url, resource=patient)]
        subject = Reference(reference=patient_url, type="Patient", identifier=pseudonym)
        entries.extend(
            BundleEntry(fullUrl=f"urn:uuid:{observation.id}", resource=observation)
            for observation in _observations(record, subject)
        )
        return Bundle(
            id=_uuid(f"Bundle|{record.session_id}"),
            identifier=Identifier(system=SESSION_SYSTEM, value=record.session_id),
            type="collection",
            entry=entries or None,
        )
    except ValidationError as exc:
        raise FhirExportError(_describe(record.session_id, exc)) from None


def bundle_json(record: SessionRecord) -> str:
    """The bundle as JSON text, parsed back by the library and checked before it is returned."""
    bundle = build_bundle(record)
    text = bundle.model_dump_json(indent=2) + "\n"
    try:
        again = Bundle.model_validate_json(text)
    except ValidationError as exc:
        raise FhirExportError(_describe(record.session_id, exc)) from None
    if again.model_dump() != bundle.model_dump():
        raise FhirExportError(f"session {record.session_id}: the bundle does not read back as written")
    problems = vital_signs_problems(again)
    if problems:
        raise FhirExportError(f"session {record.session_id}: " + "; ".join(problems))
    return text


def vital_signs_problems(bundle: Bundle) -> list[str]:
    """Rules of the vital-signs profile that the models do not check (they check structure and
    types, not required codes): each Observation's status, category, subject, time, and a value in
    UCUM or, for the BP panel, components instead of a value."""
    problems: list[str] = []
    for index, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if not isinstance(resource, Observation):
            continue
        where = f"entry[{index}]"
        if resource.status != "final":
            problems.append(f"{where}.status is not final")
        categories = [c.code for cc in resource.category or [] for c in cc.coding or []]
        if "vital-signs" not in categories:
            problems.append(f"{where}.category lacks vital-signs")
        if resource.subject is None or resource.subject.type != "Patient":
            problems.append(f"{where}.subject is not a Patient")
        if resource.effectiveDateTime is None:
            problems.append(f"{where}.effectiveDateTime is missing")
        codes = {c.code for c in resource.code.coding or [] if c.system == LOINC}
        if BP_PANEL.code in codes:
            if resource.valueQuantity is not None or len(resource.component or []) != 2:
                problems.append(f"{where}: the BP panel needs 2 components and no value")
            quantities = [c.valueQuantity for c in resource.component or [] if c.valueQuantity]
        else:
            quantities = [resource.valueQuantity] if resource.valueQuantity else []
            if not quantities:
                problems.append(f"{where}.valueQuantity is missing")
        if any(q.system != UCUM or not q.code or q.value is None for q in quantities):
            problems.append(f"{where}: a quantity is not in UCUM")
    return problems


def _observations(record: SessionRecord, subject: Reference) -> Iterator[Observation]:
    encounter = Reference(
        type="Encounter", identifier=Identifier(system=SESSION_SYSTEM, value=record.session_id)
    )
    for row in record.vitals:
        device = None
        if row.device_id:
            device = Reference(
                type="Device", identifier=Identifier(system=DEVICE_SYSTEM, value=row.device_id)
            )
        for name in VITAL_NAMES:
            if name not in row.values or (name == "diastolic_bp" and "systolic_bp" in row.values):
                continue
            panel = name in BP_NAMES
            coding = SYSTOLIC if panel else SINGLE_VALUES[name]
            code = BP_PANEL.code if panel else coding.codes[0].code
            yield Observation(
                id=_id(record, row, code),
                meta=Meta(profile=[PROFILE + coding.profile]),
                status="final",
                category=[_vital_signs_category()],
                code=_concept((BP_PANEL,) if panel else coding.codes),
                subject=subject,
                encounter=encounter,
                effectiveDateTime=row.ts.astimezone(UTC),
                valueQuantity=None if panel else _quantity(row.values[name], coding),
                component=[_component(row, n, c) for n, c in BP_PARTS] if panel else None,
                device=device,
            )


def _component(row: VitalsRow, name: str, coding: VitalCoding) -> ObservationComponent:
    if name in row.values:
        return ObservationComponent(
            code=_concept(coding.codes), valueQuantity=_quantity(row.values[name], coding)
        )
    absent = Coding(system=DATA_ABSENT_REASON, code="unknown", display="Unknown")
    return ObservationComponent(
        code=_concept(coding.codes), dataAbsentReason=CodeableConcept(coding=[absent])
    )


def _vital_signs_category() -> CodeableConcept:
    coding = Coding(system=OBSERVATION_CATEGORY, code="vital-signs", display="Vital Signs")
    return CodeableConcept(coding=[coding], text="Vital Signs")


def _concept(codes: tuple[Code, ...]) -> CodeableConcept:
    return CodeableConcept(
        coding=[Coding(system=LOINC, code=c.code, display=c.display) for c in codes],
        text=codes[0].display,
    )


def _quantity(value: float, coding: VitalCoding) -> Quantity:
    number: float | int = int(value) if coding.integral and float(value).is_integer() else value
    return Quantity(value=number, unit=coding.unit, system=UCUM, code=coding.ucum)


def _id(record: SessionRecord, row: VitalsRow, code: str) -> str:
    return _uuid(f"Observation|{record.session_id}|{row.device_id or ''}|{row.ts.astimezone(UTC)}|{code}")


def _uuid(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def _describe(session_id: str, exc: ValidationError) -> str:
    """Field locations and messages only: the input values (a patient's data) stay out."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    parts = [f"{'.'.join(str(p) for p in e['loc']) or exc.title}: {_one_line(e['msg'])}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"session {session_id}: the FHIR bundle does not validate: {'; '.join(parts)}{more}"


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
