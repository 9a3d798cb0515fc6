"""Rule-file rows for the patient channel (`ivig.patient.v1`): the words the patient reads."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from models.alerts import Condition
from models.rule_common import Row, Source, check_template

PATIENT_PLACEHOLDERS = frozenset({"vitals"})
PatientText = Annotated[str, Field(min_length=3, max_length=400)]


class PatientIncidentWords(Row):
    """What the patient reads when an urgent or critical incident led by `condition` pages.

    `instructions` (medication, pump, emergency services) go only with an incident that is
    corroborated (a member not resting on one unconfirmed reading) or acknowledged by a nurse;
    otherwise the patient reads the section's `nurse_calling` words."""

    condition: Condition
    instructions: PatientText
    source: Source

    @model_validator(mode="after")
    def _a_finding(self) -> Self:
        if self.condition is Condition.INCIDENT:
            raise ValueError("an incident is led by a finding's condition, not `incident`")
        return self


class PatientRule(Row):
    """The patient channel's words: measure again, vitals due, a nurse is calling, and per
    condition the instructions of an urgent or critical incident."""

    measure_again: PatientText
    """A lone reading past a limit waits for its repeat ({vitals}: what to measure)."""
    vitals_due: PatientText
    """A set of the care schedule is due ({vitals}: the set)."""
    nurse_calling: PatientText
    """An urgent or critical incident without instructions to give (not corroborated, or no row)."""
    incident: tuple[PatientIncidentWords, ...] = ()
    source: Source

    @field_validator("measure_again", "vitals_due", "nurse_calling")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value, PATIENT_PLACEHOLDERS)

    @model_validator(mode="after")
    def _one_row_per_condition(self) -> Self:
        conditions = [row.condition for row in self.incident]
        repeated = sorted({c.value for c in conditions if conditions.count(c) > 1})
        if repeated:
            raise ValueError(f"one patient.incident row per condition; repeated: {repeated}")
        return self

    def instructions_for(self, condition: Condition) -> str | None:
        return next((row.instructions for row in self.incident if row.condition is condition), None)
