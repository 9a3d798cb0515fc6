"""Rows raised by symptom reports (with readings reported together): reactions, breathing,
and the serious delayed events."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from models.alerts import Condition, Severity
from models.events import SymptomName
from models.rule_common import (
    ActionText,
    Phase,
    PhaseList,
    Row,
    Source,
    Texts,
    VitalName,
    check_template,
    severity_by_phase,
)


class MildAloneRow(Row):
    """A side effect the patient manages at home when it is mild and alone: reported with severity
    `mild` and a score (if any) at most `score_at_most`, with no other side effect, red flag or
    vital-sign alert together. It is shown at `severity` (information: not paged) instead of the
    reaction's own severity; anything more with it raises the reaction as usual."""

    symptoms: Annotated[frozenset[SymptomName], Field(min_length=1)]
    score_at_most: Annotated[float, Field(ge=0, le=10)]
    severity: Severity
    action: ActionText | None = None
    """Shown instead of the reaction's action (the nurse has nothing to do yet)."""
    source: Source

    @field_validator("action")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        return value if value is None else check_template(value)


class InfusionReactionRule(Texts):
    id: str
    phases: PhaseList
    side_effects: frozenset[SymptomName]
    red_flags: frozenset[SymptomName]
    severity: Severity
    raised_severity: Severity
    red_flag_severity: Severity
    severe_score: Annotated[float, Field(ge=0, le=10)]
    together_count: Annotated[int, Field(ge=2)]
    mild_alone: MildAloneRow | None = None

    @model_validator(mode="after")
    def _mild_alone_below_severe(self) -> Self:
        mild = self.mild_alone
        if mild is not None and not mild.symptoms <= self.side_effects:
            raise ValueError("mild_alone.symptoms must be side effects")
        if mild is not None and mild.score_at_most >= self.severe_score:
            raise ValueError("mild_alone.score_at_most must be below severe_score")
        return self


class AnaphylaxisRule(Texts):
    id: str
    phases: PhaseList
    skin: frozenset[SymptomName]
    breathing: frozenset[SymptomName]
    breathing_spo2_at_most: float
    neuro: frozenset[SymptomName]
    gastro: frozenset[SymptomName]
    alone: frozenset[SymptomName]
    low_pressure_rules: tuple[str, ...]
    severity: Severity
    until_hours_after_stop: Annotated[float, Field(gt=0)] | None = None
    """Ends the row's window this long after the stop, within its phases (biphasic anaphylaxis:
    up to 72 h after it)."""
    new_episode_after_hours: Annotated[float, Field(gt=0)] | None = None
    """Criteria met again more than this long after they were last met are a new episode: the open
    alert (acknowledged or not) is resolved and the new episode fires as a new alert."""


class RespiratoryRow(Texts):
    """One respiratory_compromise row; `severity` by phase (a phase left out: the row is off)."""

    id: str
    severity: Annotated[dict[Phase, Severity], Field(min_length=1)]

    @field_validator("severity", mode="before")
    @classmethod
    def _by_phase(cls, value: object) -> object:
        return severity_by_phase(value)

    @field_validator("severity")
    @classmethod
    def _no_after(cls, value: dict[Phase, Severity]) -> dict[Phase, Severity]:
        if Phase.AFTER in value:
            raise ValueError("no rule applies in the 'after' phase")
        return value


class MyastheniaRow(RespiratoryRow):
    symptoms: Annotated[frozenset[SymptomName], Field(min_length=1)]
    respiratory_rate_rise_at_least: Annotated[float, Field(gt=0)]


class RespiratoryRule(Row):
    """Breathing symptoms with or without low SpO2 / fast breathing; the myasthenia caveat."""

    breathing_symptoms: Annotated[frozenset[SymptomName], Field(min_length=1)]
    spo2_at_most: Annotated[float, Field(gt=0, le=100)]
    respiratory_rate_at_least: Annotated[float, Field(gt=0)]
    with_vitals: RespiratoryRow
    alone: RespiratoryRow
    myasthenia: MyastheniaRow
    post_early_severity_hours: Annotated[float, Field(gt=0, le=72)] | None = None
    """Until this many hours after the stop the rows keep their post-early severity in post-late too
    (ISBT: TACO within 12 h); None: post-late's own."""


class SymptomGroup(Row):
    """One of these symptoms; with `severe`, only a report graded severe or scored `severe_score`+."""

    any_of: Annotated[frozenset[SymptomName], Field(min_length=1)]
    severe: bool = False


class VitalClause(Row):
    """A reading reported together with the symptoms: its value against a fixed limit."""

    vital: VitalName
    below: float | None = None
    at_most: float | None = None
    at_least: float | None = None
    above: float | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> Self:
        if [self.below, self.at_most, self.at_least, self.above].count(None) != 3:
            raise ValueError("needs exactly one of below, at_most, at_least, above")
        return self

    def holds(self, value: float) -> bool:
        if self.below is not None:
            return value < self.below
        if self.at_most is not None:
            return value <= self.at_most
        if self.at_least is not None:
            return value >= self.at_least
        return self.above is not None and value > self.above

    def describe(self) -> str:
        op, limit = next(
            (op, v)
            for op, v in (("<", self.below), ("<=", self.at_most), (">=", self.at_least), (">", self.above))
            if v is not None
        )
        return f"{self.vital} {op} {limit:g}"


class SymptomRule(Texts):
    """Reported symptoms (one from each group of `all_of`, together) raise `condition`.

    `until_hours_after_stop` ends the row's window early (for example aseptic meningitis, up to
    7 days after the infusion). With `raised_with`, a reading together with the symptoms that
    meets the clause raises the severity to `raised_severity`.
    """

    id: str
    condition: Condition
    severity: Severity
    phases: PhaseList
    all_of: Annotated[tuple[SymptomGroup, ...], Field(min_length=1)]
    severe_score: Annotated[float, Field(ge=0, le=10)] | None = None
    until_hours_after_stop: Annotated[float, Field(gt=0)] | None = None
    raised_severity: Severity | None = None
    raised_with: VitalClause | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if any(group.severe for group in self.all_of) and self.severe_score is None:
            raise ValueError("a group with severe = true needs severe_score on the row")
        if (self.raised_severity is None) != (self.raised_with is None):
            raise ValueError("raised_severity and raised_with go together")
        if self.raised_severity is not None and self.raised_severity.rank <= self.severity.rank:
            raise ValueError("raised_severity must be above severity")
        return self
