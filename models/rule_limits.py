"""Rule-file rows that bound what a nurse may set for one patient: limits and snoozes (issue 16)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from models.rule_common import Row, Source, VitalName, repeated


class LimitBound(Row):
    """How far a patient's own limit for one side of a vital may go: `min` to `max`, inclusive."""

    vital: VitalName
    side: Literal["low", "high"]
    min: float
    max: float
    source: Source

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError("min must not be above max")
        return self


class PatientLimitsRule(Row):
    """`[patient_limits]`: the longest a limit or a snooze may last, and each vital's limit bounds.

    Both change only warning and urgent single-vital threshold rows; never critical rows, composites,
    symptom rows or a value beyond an extreme limit ([[confirmation.extreme]])."""

    max_limit_hours: Annotated[float, Field(gt=0, le=24 * 14)]
    max_snooze_hours: Annotated[float, Field(gt=0, le=24)]
    source: Source
    bounds: tuple[LimitBound, ...] = ()

    @model_validator(mode="after")
    def _one_bound_per_side(self) -> Self:
        if twice := repeated([f"{b.vital}:{b.side}" for b in self.bounds]):
            raise ValueError(f"one bound per vital and side; repeated: {twice}")
        return self

    def bound(self, vital: str, side: str) -> LimitBound | None:
        return next((b for b in self.bounds if b.vital == vital and b.side == side), None)
