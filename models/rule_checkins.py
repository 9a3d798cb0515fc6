"""Rule-file rows for the check-ins after an infusion (`[checkin]`): when they are asked, what they
ask, and when an unanswered one reminds the patient and then warns the nurse."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from models.alerts import Severity
from models.events import SymptomName
from models.rule_common import ActionText, Row, Source, Title, check_template, repeated

CHECKIN_PLACEHOLDERS = frozenset({"day"})
PatientText = Annotated[str, Field(min_length=3, max_length=400)]
ANSWERED_VITALS = frozenset({"temperature_c", "weight_kg"})
"""The vitals a check-in may ask for (what the patient measures at home days after)."""


class CheckinTime(Row):
    """Check-ins at `after_hours` after the stop, then every `every_hours` up to `until_hours`."""

    id: str
    after_hours: Annotated[float, Field(gt=0)]
    every_hours: Annotated[float, Field(gt=0)] | None = None
    until_hours: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _repeat_needs_end(self) -> Self:
        if (self.every_hours is None) != (self.until_hours is None):
            raise ValueError("every_hours and until_hours go together")
        if self.until_hours is not None and self.until_hours < self.after_hours:
            raise ValueError("until_hours must not be before after_hours")
        return self

    def hours(self) -> list[float]:
        if self.every_hours is None or self.until_hours is None:
            return [self.after_hours]
        out, at = [], self.after_hours
        while at <= self.until_hours + 1e-9:
            out.append(at)
            at += self.every_hours
        return out


class CheckinQuestion(Row):
    """One question of a check-in: yes/no for a symptom (with how bad, when `graded`), or a value
    the patient measures (`vital`)."""

    id: str
    text: PatientText
    symptom: SymptomName | None = None
    graded: bool = False
    """Ask how bad (mild, moderate, severe): a rule needs the grade (a severe headache)."""
    vital: str | None = None

    @model_validator(mode="after")
    def _one_answer(self) -> Self:
        if (self.symptom is None) == (self.vital is None):
            raise ValueError("a question asks for a symptom or a vital, one of the two")
        if self.vital is not None and self.vital not in ANSWERED_VITALS:
            raise ValueError(f"a check-in vital is one of {sorted(ANSWERED_VITALS)}")
        return self


class CheckinRule(Row):
    """The check-ins after the last stop of a course (a later start ends the earlier ones)."""

    id: str
    at: Annotated[tuple[CheckinTime, ...], Field(min_length=1)]
    question: Annotated[tuple[CheckinQuestion, ...], Field(min_length=1)]
    early_minutes: Annotated[float, Field(ge=0)]
    """An answer this long before a check-in is due counts for it."""
    remind_after_minutes: Annotated[float, Field(gt=0)]
    missed_after_minutes: Annotated[float, Field(gt=0)]
    severity: Severity
    title: Title
    action: ActionText
    prompt: PatientText
    reminder: PatientText
    source: Source
    later_after_hours: Annotated[float, Field(gt=0)] | None = None
    """With it, a missed check-in due more than this many hours after the stop is first at
    `later_severity` (on the nurses' list, not paged); it rises to `severity`, and pages, when the
    next check-in is missed too (no answer in between). None: every missed check-in pages."""
    later_severity: Severity = Severity.INFO
    later_source: Source | None = None

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.missed_after_minutes <= self.remind_after_minutes:
            raise ValueError("missed_after_minutes must be after remind_after_minutes")
        if self.later_after_hours is not None and self.later_source is None:
            raise ValueError("later_after_hours needs its later_source")
        if self.later_severity.rank >= self.severity.rank:
            raise ValueError("later_severity must be below severity")
        for text in (self.title, self.prompt, self.reminder):
            check_template(text, CHECKIN_PLACEHOLDERS)
        if twice := repeated([q.id for q in self.question]):
            raise ValueError(f"check-in question ids must be unique; repeated: {twice}")
        return self

    def due_hours(self) -> list[float]:
        """Every check-in's hours after the stop, in order, once each."""
        return sorted({h for row in self.at for h in row.hours()})
