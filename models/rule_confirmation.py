"""Rule-file rows for confirming a lone reading before it pages: the confirmation delay, the alarm
delay of a continuous stream, and the extreme limits that page at once."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from models.alerts import Severity
from models.rule_common import Row, Source, VitalName


class ExtremeLimit(Row):
    """A reading beyond this limit pages at once, lone or not."""

    vital: VitalName
    below: float | None = None
    above: float | None = None
    source: Source

    @model_validator(mode="after")
    def _one_side(self) -> Self:
        if (self.below is None) == (self.above is None):
            raise ValueError("give exactly one of `below` and `above`")
        return self

    def beyond(self, value: float) -> bool:
        return (self.below is not None and value < self.below) or (
            self.above is not None and value > self.above
        )


class ConfirmationRule(Row):
    """A lone spot reading past a limit (nothing corroborates it: no second vital past a limit, no
    symptom in the together window, nothing beyond an extreme limit) is a pending finding, shown and
    not paged, until a repeat is still past the trigger, or no repeat came within `delay_minutes`
    (then it pages as unconfirmed). A continuous stream confirms once past the trigger for
    `alarm_delay_seconds`."""

    delay_minutes: Annotated[float, Field(gt=0, le=3)]
    """At most 3 minutes, so every confirmed or unconfirmed page comes within 5 of the first evidence."""
    warning_delay_minutes: Annotated[float, Field(gt=0, le=15)] | None = None
    """A lone reading past a warning limit only waits this long for its repeat instead (None: as
    `delay_minutes`). Urgent and critical findings keep `delay_minutes`, so every urgent page still
    comes within 5 minutes of its first evidence."""
    alarm_delay_seconds: Annotated[float, Field(ge=0, le=60)]
    extreme: Annotated[tuple[ExtremeLimit, ...], Field(min_length=1)]
    source: Source

    def delay_for(self, severity: Severity) -> float:
        """Minutes a lone reading of this severity waits for its repeat."""
        if severity is Severity.WARNING and self.warning_delay_minutes is not None:
            return self.warning_delay_minutes
        return self.delay_minutes
