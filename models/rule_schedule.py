"""Rule-file rows for vitals on the care schedule (clinical reference Part B 4.1): which set of
vitals is due when, how early a reading counts for it and how late it may be before a nurse is
paged (`stale_data`, "vitals overdue on the care schedule")."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from models.alerts import Severity
from models.events import RiskFactor
from models.rule_common import ActionText, Row, Source, Texts, Title, check_template, repeated

Minutes = Annotated[float, Field(ge=0, le=24 * 60)]


class SetAnchor(StrEnum):
    """What a set's due time is counted from."""

    START = "start"
    """The infusion's start."""
    RATE_STEP = "rate_step"
    """Each rate increase."""
    STEADY = "steady"
    """At a steady rate: every `every_minutes` after the start and after each rate increase, until
    the next increase or the stop."""
    STOP = "stop"
    """The stop (or the implied stop of a session whose stop never came)."""


INFUSING_ANCHORS = frozenset({SetAnchor.START, SetAnchor.RATE_STEP, SetAnchor.STEADY})
"""Sets counted from these fall while infusing: one due at or after the stop is not asked for."""


class ScheduleRow(Row):
    """One kind of set of the care schedule."""

    id: str
    anchor: SetAnchor
    due_minutes: Minutes = 0.0
    """Due this long after the anchor (not for `steady`)."""
    every_minutes: Annotated[float, Field(gt=0, le=24 * 60)] | None = None
    """`steady` only: the interval at a steady rate."""
    early_minutes: Minutes
    """A reading taken up to this long before the due time counts for the set."""
    grace_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    """How late the set may be: overdue (a page) this long after its due time."""
    tightened: bool = True
    """For a high-risk patient the grace is multiplied by `risk.stale_limit_factor`."""
    only_for: frozenset[RiskFactor] = frozenset()
    """When given, the set is asked for only from a patient with one of these risk factors."""
    source: Source

    @model_validator(mode="after")
    def _interval(self) -> Self:
        steady = self.anchor is SetAnchor.STEADY
        if steady != (self.every_minutes is not None):
            raise ValueError("every_minutes is required for anchor steady, and only for it")
        if steady and self.due_minutes != 0:
            raise ValueError("a steady set is due every_minutes after its anchor: leave due_minutes out")
        if self.every_minutes is not None and self.grace_minutes >= self.every_minutes:
            # each set would fall due within the grace of the one before and take it over: never paged
            raise ValueError("grace_minutes must be shorter than every_minutes")
        if self.every_minutes is not None and self.early_minutes >= self.every_minutes:
            raise ValueError("early_minutes must be shorter than every_minutes")
        return self


class CareSchedule(Row):
    """The care schedule: its sets, and when it ends. Any vitals reading counts as a set."""

    closes_after_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    """An overdue alert still open this long after the schedule's last set fell overdue closes."""
    source: Source
    sets: Annotated[tuple[ScheduleRow, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        if twice := repeated([row.id for row in self.sets]):
            raise ValueError(f"set ids must be unique; repeated: {twice}")
        return self


class StaleDataRule(Texts):
    """`stale_data`, vitals overdue on the care schedule: a set due and not taken is first a
    reminder (`reminder_severity`, pending: shown, never paged) at its due time, then, still missing
    after its grace, a page at the first severity (the second from the second missed set in a row).
    Resolved by the next vitals, or closed when the schedule ends."""

    severities: tuple[Severity, Severity]
    reminder_severity: Severity
    reminder_title: Title
    reminder_action: ActionText

    @field_validator("reminder_action")
    @classmethod
    def _reminder_template(cls, value: str) -> str:
        return check_template(value)

    @model_validator(mode="after")
    def _rising(self) -> Self:
        first, second = self.severities
        if second.rank <= first.rank:
            raise ValueError("severities: the second severity must be above the first")
        if first.rank < Severity.WARNING.rank:
            raise ValueError("severities: an overdue set pages, at warning or above")
        if self.reminder_severity.rank >= first.rank:
            raise ValueError("reminder_severity must be below the first severity (a reminder never pages)")
        return self
