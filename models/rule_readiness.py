"""Rule-file rows for the readiness check before a start (`[readiness]`): which answers say "do
not start yet", and what the patient and the nurse are told."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from models.alerts import Severity
from models.rule_common import ActionText, Row, Source, Title, check_template, repeated

READINESS_PLACEHOLDERS = frozenset({"reasons"})
PatientText = Annotated[str, Field(min_length=3, max_length=400)]
ReadinessAnswer = Literal[
    "feeling_unwell", "feverish", "premedication_taken", "well_hydrated", "epinephrine_at_hand"
]


class ReadinessRow(Row):
    """One answer that needs something: `answer` equal to `when` (a temperature at or above the
    section's `fever_at_least` counts as `feverish: true`)."""

    id: str
    answer: ReadinessAnswer
    when: bool
    blocks: bool
    """Do not start until a nurse agrees (an alert for the nurse); else advice only."""
    patient: PatientText
    """What the patient reads."""
    nurse: Annotated[str, Field(min_length=3, max_length=120)]
    """The reason in the nurse's alert."""
    source: Source


class ReadinessRule(Row):
    id: str
    severity: Severity
    title: Title
    action: ActionText
    ready: PatientText
    not_ready: PatientText
    fever_at_least: Annotated[float, Field(ge=37.0, le=41.0)]
    answer: tuple[ReadinessRow, ...] = ()
    source: Source

    @model_validator(mode="after")
    def _templates(self) -> Self:
        for text in (self.title, self.action, self.not_ready):
            check_template(text, READINESS_PLACEHOLDERS)
        if twice := repeated([row.id for row in self.answer]):
            raise ValueError(f"readiness answer ids must be unique; repeated: {twice}")
        return self
