"""Messages to the patient on `ivig.patient.v1` (contract v2): what the app shows at home."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from models.alerts import RuleRef, Severity
from models.events import EventTime


class PatientMessageKind(StrEnum):
    MEASURE_AGAIN = "measure_again"
    """A lone reading past a limit: take the named vitals again now."""
    VITALS_DUE = "vitals_due"
    """A set of the care schedule is due: take the named vitals now."""
    INCIDENT = "incident"
    """An urgent or critical incident paged: shown so it cannot be missed."""


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
    alert_id: str = Field(description="The alert (or incident) message this one accompanies")
    incident_id: str | None = None
    rule: RuleRef
