"""Events on `ivig.events.v1` and nurse actions on `ivig.actions.v1` (contract v1)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

Pseudonym = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
ShortText = Annotated[str, StringConstraints(max_length=128)]
FreeText = Annotated[str, StringConstraints(max_length=2000)]


def _require_rfc3339_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 time string with an offset")  # noqa: TRY004
    return value


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a UTC offset (for example 2026-11-24T10:15:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00 leave the calendar
        raise ValueError("must fall between the years 1 and 9999 in UTC") from None


EventTime = Annotated[datetime, BeforeValidator(_require_rfc3339_text), AfterValidator(_require_offset)]


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)


class EventBase(_Contract):
    """Fields every event carries."""

    patient_id: Pseudonym
    ts: EventTime
    event_id: ShortText | None = None
    device_id: ShortText | None = None


VITAL_RANGES: dict[str, tuple[float, float]] = {
    "heart_rate": (10, 300),
    "systolic_bp": (30, 300),
    "diastolic_bp": (10, 200),
    "temperature_c": (25.0, 45.0),
    "respiratory_rate": (0, 80),
    "spo2": (30, 100),
    "weight_kg": (2, 400),
}
"""Plausibility ranges of the contract: a value outside is rejected, never clamped."""

VITAL_NAMES: tuple[str, ...] = tuple(VITAL_RANGES)


class Vitals(EventBase):
    type: Literal["vitals"]
    session_id: Pseudonym
    heart_rate: Annotated[float, Field(ge=10, le=300)] | None = None
    systolic_bp: Annotated[float, Field(ge=30, le=300)] | None = None
    diastolic_bp: Annotated[float, Field(ge=10, le=200)] | None = None
    temperature_c: Annotated[float, Field(ge=25.0, le=45.0)] | None = None
    respiratory_rate: Annotated[float, Field(ge=0, le=80)] | None = None
    spo2: Annotated[float, Field(ge=30, le=100)] | None = None
    weight_kg: Annotated[float, Field(ge=2, le=400)] | None = None
    on_oxygen: bool = False
    mode: Literal["spot", "continuous"] = "spot"
    """(v2) `spot`: one measurement taken on purpose (cuff, thermometer, a set entered by hand);
    `continuous`: a sample of a worn device's stream (a 1 Hz oximeter). A lone spot reading past a
    limit waits for its repeat; a continuous one for the stream to stay past it."""

    @model_validator(mode="after")
    def _consistent(self) -> Vitals:
        if not self.values():
            raise ValueError("a vitals event needs at least one measurement")
        if (
            self.systolic_bp is not None
            and self.diastolic_bp is not None
            and self.diastolic_bp >= self.systolic_bp
        ):
            raise ValueError("diastolic_bp must be below systolic_bp")
        return self

    def values(self) -> dict[str, float]:
        """The measurements this reading carries, by vital name."""
        return {name: v for name in VITAL_NAMES if (v := getattr(self, name)) is not None}


class SymptomName(StrEnum):
    HEADACHE = "headache"
    RASH = "rash"
    MUSCLE_PAIN = "muscle_pain"
    CHILLS = "chills"
    FEVER = "fever"
    SHORTNESS_OF_BREATH = "shortness_of_breath"
    NAUSEA = "nausea"
    HIVES = "hives"
    ITCHING = "itching"
    FLUSHING = "flushing"
    LIP_OR_TONGUE_SWELLING = "lip_or_tongue_swelling"
    THROAT_TIGHTNESS = "throat_tightness"
    WHEEZING = "wheezing"
    DIZZINESS = "dizziness"
    FAINTING = "fainting"
    VOMITING = "vomiting"
    ABDOMINAL_PAIN = "abdominal_pain"
    CONFUSION = "confusion"
    NECK_STIFFNESS = "neck_stiffness"
    PHOTOPHOBIA = "photophobia"
    CHEST_PAIN = "chest_pain"
    ONE_SIDED_WEAKNESS = "one_sided_weakness"
    SPEECH_DIFFICULTY = "speech_difficulty"
    VISION_CHANGE = "vision_change"
    LIMB_SWELLING = "limb_swelling"
    DARK_URINE = "dark_urine"
    REDUCED_URINATION = "reduced_urination"
    SWALLOWING_DIFFICULTY = "swallowing_difficulty"
    WEAK_COUGH = "weak_cough"
    OTHER = "other"


class SymptomSeverity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Symptom(EventBase):
    type: Literal["symptom"]
    session_id: Pseudonym
    symptom: SymptomName
    severity: SymptomSeverity
    score: Annotated[float, Field(ge=0, le=10)] | None = None
    note: FreeText | None = None


class InfusionAction(StrEnum):
    START = "start"
    RATE_CHANGE = "rate_change"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    STATUS = "status"


class Infusion(EventBase):
    type: Literal["infusion"]
    session_id: Pseudonym
    action: InfusionAction
    rate_ml_per_h: Annotated[float, Field(ge=0, le=2000)] | None = None
    product: ShortText | None = None
    lot: ShortText | None = None
    dose_g: Annotated[float, Field(gt=0, le=500)] | None = None
    planned_end: EventTime | None = None

    @model_validator(mode="after")
    def _rate_when_needed(self) -> Infusion:
        needs_rate = self.action in (InfusionAction.START, InfusionAction.RATE_CHANGE)
        if needs_rate and self.rate_ml_per_h is None:
            raise ValueError("rate_ml_per_h is required for start and rate_change")
        return self


class RiskFactor(StrEnum):
    RENAL_DISEASE = "renal_disease"
    HEART_DISEASE = "heart_disease"
    THROMBOSIS_HISTORY = "thrombosis_history"
    STROKE_HISTORY = "stroke_history"
    DIABETES = "diabetes"
    AGE_OVER_65 = "age_over_65"
    FIRST_INFUSION = "first_infusion"
    BRAND_SWITCH = "brand_switch"
    LONG_GAP = "long_gap"
    PRIOR_REACTION = "prior_reaction"
    MIGRAINE_HISTORY = "migraine_history"
    IGA_DEFICIENCY = "iga_deficiency"


class Profile(EventBase):
    type: Literal["profile"]
    session_id: Pseudonym | None = None
    weight_kg: Annotated[float, Field(ge=2, le=400)] | None = None
    risk_factors: Annotated[list[RiskFactor], Field(max_length=32)] = Field(default_factory=list)
    usual_product: ShortText | None = None
    epinephrine_available: bool | None = None
    myasthenia_gravis: bool | None = None


class SymptomAnswer(_Contract):
    """One symptom named in a check-in's answers."""

    symptom: SymptomName
    severity: SymptomSeverity
    score: Annotated[float, Field(ge=0, le=10)] | None = None


class Checkin(EventBase):
    """(v2) The patient's answers to a check-in after the infusion (from the app).

    Its answers are ordinary symptom and vitals events for the rules (`answer_events`); the event
    itself tells the rules the check-in was answered. No symptom listed means "none of these"."""

    type: Literal["checkin"]
    session_id: Pseudonym
    checkin_id: ShortText | None = None
    """The check-in answered (the prompt's `checkin_id`); an answer counts for every check-in due by then."""
    symptoms: Annotated[list[SymptomAnswer], Field(max_length=32)] = Field(default_factory=list)
    temperature_c: Annotated[float, Field(ge=25.0, le=45.0)] | None = None
    weight_kg: Annotated[float, Field(ge=2, le=400)] | None = None

    def answer_events(self) -> list[Vitals | Symptom]:
        """The answers as the symptom and vitals events the rules evaluate, ids derived from this one's."""
        base = {"patient_id": self.patient_id, "session_id": self.session_id, "ts": self.ts}

        def derived(suffix: str) -> str | None:
            return None if self.event_id is None else f"{self.event_id[:100]}:{suffix}"

        out: list[Vitals | Symptom] = [
            Symptom(type="symptom", **base, event_id=derived(f"s{n}"), **answer.model_dump())
            for n, answer in enumerate(self.symptoms)
        ]
        if self.temperature_c is not None or self.weight_kg is not None:
            out.append(
                Vitals(
                    type="vitals",
                    **base,
                    event_id=derived("v"),
                    temperature_c=self.temperature_c,
                    weight_kg=self.weight_kg,
                )
            )
        return out


class Readiness(EventBase):
    """(v2) The patient's answers to the readiness check the app asks before a `start`."""

    type: Literal["readiness"]
    session_id: Pseudonym | None = None
    """The infusion about to start, when the app knows it; without it, the patient's readiness of
    that day (`readiness.day_session`)."""
    feeling_unwell: bool
    feverish: bool
    premedication_taken: bool | None = None
    """None: no premedication is prescribed."""
    well_hydrated: bool
    epinephrine_at_hand: bool | None = None
    """None: no epinephrine is prescribed."""
    temperature_c: Annotated[float, Field(ge=25.0, le=45.0)] | None = None


class MessageSeen(EventBase):
    """(v2) The patient's app showed a message of `ivig.patient.v1` to the patient."""

    type: Literal["message_seen"]
    session_id: Pseudonym
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    incident_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    """The incident the message belongs to: the nurse sees in it that the patient saw it."""


Event = Annotated[
    Vitals | Symptom | Infusion | Profile | Checkin | Readiness | MessageSeen, Field(discriminator="type")
]
"""A device/patient event: one of the contract types, chosen by `type`."""


LimitSide = Literal["low", "high"]
SETTING_TYPES = frozenset({"limit", "snooze"})
"""(v2) Nurse actions that set something of the patient's (not an alert's): `limit`, `snooze`."""


class _Setting(_Contract):
    """(v2) What a `limit` or `snooze` sets: in force from the action's `ts` until `until`, with the
    nurse's reason; `clear: true` ends the one in force early (then `until` and `reason` may be left out)."""

    until: EventTime | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    clear: bool = False

    @model_validator(mode="after")
    def _until_and_reason(self) -> Any:
        if not self.clear and (self.until is None or self.reason is None or not self.reason.strip()):
            raise ValueError("`until` and a `reason` are required (unless `clear` is true)")
        return self


class PatientLimit(_Setting):
    """(v2) The patient's own alarm limit for one side of a vital: on the `low` side a warning or urgent
    row of the vital fires only below `value`, on the `high` side only above it."""

    vital: Literal["heart_rate", "systolic_bp", "diastolic_bp", "temperature_c", "respiratory_rate", "spo2"]
    side: LimitSide
    value: Annotated[float, Field(ge=0, le=300)] | None = None

    @model_validator(mode="after")
    def _value(self) -> Any:
        if not self.clear and self.value is None:
            raise ValueError("`value` is required (unless `clear` is true)")
        return self


class Snooze(_Setting):
    """(v2) A condition snoozed for one patient: its warning and urgent single-vital rows (or the one
    row `rule`) do not fire."""

    condition: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]
    rule: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None


class NurseActionType(StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"
    NOTE = "note"
    HANDOVER = "handover"


class Outcome(StrEnum):
    """(v2) What a resolved incident turned out to be (each rule's positive predictive value counts it)."""

    NEEDED_ACTION = "needed_action"
    NOT_NEEDED = "not_needed"
    ARTEFACT = "artefact"
    """A device or measurement artefact (a cuff on a moving arm, a cold finger)."""


StaffName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""Who took a nurse action (a console account's login name, or the CLI's --by)."""
LoginName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{1,64}$")]
"""A console account's login name (1-64 of letters, digits and . _ @ -): it may be paged."""


class NurseAction(_Contract):
    """A nurse's action on an alert (`ivig.actions.v1`)."""

    type: Literal["ack", "resolve", "note", "handover", "limit", "snooze"]
    alert_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    """For `limit` and `snooze` (v2), what it sets (filled in when left out):
    `{patient_id}:limit:{vital}:{side}`, `{patient_id}:snooze:{condition}[:{rule}]`."""
    patient_id: Pseudonym
    by: StaffName
    ts: EventTime
    note: FreeText | None = None
    limit: PatientLimit | None = None
    """(v2) on `limit` only."""
    snooze: Snooze | None = None
    """(v2) on `snooze` only."""

    to: LoginName | None = None
    """(v2, `handover` only, required) The nurse who takes the incident over."""
    outcome: Outcome | None = None
    """(v2, `resolve` only) What the incident turned out to be."""
    action_taken: FreeText | None = None
    """(v2, `resolve` only) What was done."""

    @model_validator(mode="before")
    @classmethod
    def _setting_id(cls, data: Any) -> Any:
        """A `limit` or `snooze` names what it sets; its `alert_id` is derived from that."""
        if isinstance(data, dict) and data.get("type") in SETTING_TYPES and "alert_id" not in data:
            return {**data, "alert_id": setting_id(data)}
        return data

    @model_validator(mode="after")
    def _setting_given(self) -> Any:
        if (self.type == "limit") != (self.limit is not None) or (self.type == "snooze") != (
            self.snooze is not None
        ):
            raise ValueError("`limit` goes with type limit only, `snooze` with type snooze only")
        if self.type in SETTING_TYPES and self.alert_id != setting_id(self.model_dump()):
            raise ValueError("`alert_id` of a limit or snooze must name what it sets")
        return self

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> NurseAction:
        if (self.type == "handover") != (self.to is not None):
            raise ValueError("`to` (the nurse taking over) is required for handover and only for it")
        if self.type != "resolve" and (self.outcome is not None or self.action_taken is not None):
            raise ValueError("outcome and action_taken go with resolve only")
        return self


def setting_id(data: dict[str, Any]) -> str:
    """The id of what a `limit` or `snooze` action sets (its `alert_id`); '' when it names nothing."""
    limit, snooze = data.get("limit"), data.get("snooze")
    if data.get("type") == "limit" and isinstance(limit, dict):
        return f"{data.get('patient_id')}:limit:{limit.get('vital')}:{limit.get('side')}"
    if data.get("type") == "snooze" and isinstance(snooze, dict):
        rule = snooze.get("rule")
        return f"{data.get('patient_id')}:snooze:{snooze.get('condition')}" + (f":{rule}" if rule else "")
    return ""


ReplayLine = Annotated[
    Vitals | Symptom | Infusion | Profile | Checkin | Readiness | MessageSeen | NurseAction,
    Field(discriminator="type"),
]
"""One line of a replay file: an event or a nurse action."""
