"""Rule-file rows for incidents: when a finding joins a patient's incident, and which condition
folds which into its incident instead of paging (inhibition)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from models.alerts import Condition
from models.events import Outcome
from models.rule_common import Row, Source


class AckTimeoutRule(Row):
    """An acknowledged urgent or critical incident not resolved `<severity>_minutes` after its
    acknowledgement (or handover) pages its owner alone (a reminder); still not resolved
    `escalate_after_minutes` later, it escalates again (one level up, paged to the roster)."""

    urgent_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    critical_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    escalate_after_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    reason: Annotated[str, Field(min_length=3)]
    source: Source

    @model_validator(mode="after")
    def _critical_first(self) -> Self:
        if self.critical_minutes > self.urgent_minutes:
            raise ValueError("critical_minutes must not be longer than urgent_minutes")
        return self


class QuietAfterResolveRule(Row):
    """A nurse's resolution with one of `outcomes` (they judged the finding not needing action, or an
    artefact) keeps each resolved vital-sign finding from opening again through its warning and urgent
    threshold rows at its severity or below, until the pump stops or `max_minutes` pass. A worse
    reading, a critical row, an extreme value, a composite or a symptom still pages; the quiet
    readings still corroborate."""

    outcomes: Annotated[tuple[Outcome, ...], Field(min_length=1)]
    max_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    reason: Annotated[str, Field(min_length=3)]
    source: Source

    @model_validator(mode="after")
    def _not_needed_action(self) -> Self:
        if Outcome.NEEDED_ACTION in self.outcomes:
            raise ValueError("a finding that needed action is never kept quiet: drop needed_action")
        return self


class IncidentRule(Row):
    """A finding more than `gap_minutes` after the last new member of the patient's open incident
    opens a new incident; so does any finding once the incident is resolved."""

    gap_minutes: Annotated[float, Field(gt=0, le=24 * 60)]
    group_wait_minutes: Annotated[float, Field(ge=0, le=2)] = 0.0
    """A new incident's first page at warning waits this long after the finding's first evidence,
    for a more severe member to page instead (at most 2: a confirmed lone reading, up to 3 minutes
    pending, still pages within 5 of its first evidence). Urgent and critical pages never wait."""
    source: Source
    ack_timeout: AckTimeoutRule | None = None
    """([incidents.ack_timeout]) None: an acknowledged incident waits for its owner without reminders."""
    quiet_after_resolve: QuietAfterResolveRule | None = None
    """([incidents.quiet_after_resolve]) None: a finding resolved while its trigger holds opens again at
    the next reading past it."""


class InhibitRow(Row):
    """While `when` is an open, confirmed member of an incident, a finding of a covered condition
    joins it without paging (it is shown inside the incident, and still raises its severity)."""

    id: str
    when: Condition
    covers: Annotated[tuple[Condition, ...], Field(min_length=1)]
    reason: Annotated[str, Field(min_length=3)]
    source: Source

    @model_validator(mode="after")
    def _not_itself(self) -> Self:
        if self.when in self.covers:
            raise ValueError(f"{self.when.value} cannot cover itself")
        return self
