"""Messages to the patient on `ivig.patient.v1` (contract v2): what the app shows at home."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.alerts import RuleRef, Severity
from models.events import EventTime, SymptomName


class PatientMessageKind(StrEnum):
    MEASURE_AGAIN = "measure_again"
    """A lone reading past a limit: take the named vitals again now."""
    VITALS_DUE = "vitals_due"
    """A set of the care schedule is due: take the named vitals now."""
    INCIDENT = "incident"
    """An urgent or critical incident paged: shown so it cannot be missed."""
    CHECKIN = "checkin"
    """A check-in after the infusion is due (or still unanswered: `reminder`): answer `questions`."""
    READINESS = "readiness"
    """The answer to the readiness check before a start: go ahead, or do not start yet."""


class PatientQuestion(BaseModel):
    """One question of a check-in, as the app asks it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    symptom: SymptomName | None = Field(default=None, description="Yes reports this symptom")
    graded: bool = Field(default=False, description="Ask how bad (mild, moderate, severe)")
    vital: str | None = Field(default=None, description="A value to measure: temperature_c or weight_kg")


class PatientMessage(BaseModel):
    """One message to the patient, keyed by `patient_id` like every keyed topic."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(description="Stable: the same evaluation gives the same id (replay, redelivery)")
    patient_id: str
    session_id: str
    kind: PatientMessageKind
    ts: EventTime
    text: str
    vitals: list[str] = Field(default_factory=list, description="What to measure (measure_again, vitals_due)")
    severity: Severity | None = Field(default=None, description="The incident's severity (incident)")
    instructions: bool = Field(
        default=False,
        description="The text carries medication, pump or emergency instructions: only for a "
        "corroborated or nurse-acknowledged incident",
    )
    checkin_id: str | None = Field(default=None, description="The check-in to answer (checkin)")
    checkin_day: int | None = Field(
        default=None, description="Which day after the stop it asks about (checkin)"
    )
    questions: list[PatientQuestion] = Field(default_factory=list, description="What to ask (checkin)")
    reminder: bool = Field(default=False, description="The check-in was asked before and is still unanswered")
    start: bool | None = Field(default=None, description="Whether the infusion may start (readiness)")
    alert_id: str | None = Field(
        default=None,
        description="The alert (or incident) message this one accompanies; none for a "
        "check-in prompt or a readiness answer that raised none",
    )
    incident_id: str | None = None
    rule: RuleRef
