"""The NEWS2 early-warning score as data: parameter bands, rounding and response tiers (RCP 2017)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from models.alerts import Severity
from models.events import VITAL_NAMES, SymptomName
from models.rule_common import PhaseList, Row, Source, Texts, expand_phases

Score = Annotated[int, Field(ge=0, le=3)]


class ScoreBand(Row):
    """Values up to `up_to` (inclusive, after rounding) score `score`; the last band has no `up_to`."""

    up_to: float | None = None
    score: Score


class News2Tier(Texts):
    """A response tier: a total at or over `total_at_least`, or any one parameter scoring
    `any_parameter_score`."""

    id: str
    severity: Severity
    total_at_least: Annotated[int, Field(ge=1, le=20)] | None = None
    any_parameter_score: Score | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if (self.total_at_least is None) == (self.any_parameter_score is None):
            raise ValueError("needs exactly one of total_at_least, any_parameter_score")
        return self


class EarlyWarningRule(Row):
    """NEWS2 from the full set: the latest value of each banded vital, none older than
    `full_set_minutes`; consciousness from reported symptoms; supplemental oxygen from the
    latest SpO2 reading."""

    phases: PhaseList
    source: Source
    full_set_minutes: Annotated[float, Field(gt=0)]
    rounding: Annotated[str, Field(min_length=3)]
    """The rounding rule in words (shown by `ivigwatch rules show`); `precision` applies it."""
    precision: dict[str, Annotated[float, Field(gt=0)]]
    bands: Annotated[dict[str, Annotated[tuple[ScoreBand, ...], Field(min_length=2)]], Field(min_length=1)]
    oxygen_score: Score
    consciousness_score: Score
    consciousness_symptoms: frozenset[SymptomName]
    tiers: Annotated[tuple[News2Tier, ...], Field(min_length=1)]

    @field_validator("phases", mode="before")
    @classmethod
    def _phases(cls, value: object) -> object:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return expand_phases(value)
        return value

    @field_validator("bands", "precision")
    @classmethod
    def _known_vitals(cls, value: dict[str, object]) -> dict[str, object]:
        unknown = sorted(set(value) - set(VITAL_NAMES))
        if unknown:
            raise ValueError(f"unknown vital(s) {unknown}; expected some of {list(VITAL_NAMES)}")
        return value

    @field_validator("bands")
    @classmethod
    def _ordered(cls, value: dict[str, tuple[ScoreBand, ...]]) -> dict[str, tuple[ScoreBand, ...]]:
        for vital, bands in value.items():
            limits = [b.up_to for b in bands[:-1] if b.up_to is not None]
            if len(limits) != len(bands) - 1 or bands[-1].up_to is not None:
                raise ValueError(f"{vital}: every band but the last needs up_to; the last has none")
            if limits != sorted(limits) or len(set(limits)) != len(limits):
                raise ValueError(f"{vital}: up_to must increase from band to band")
        return value

    def score(self, vital: str, value: float) -> int:
        """The band score of a value already rounded to the vital's precision."""
        bands = self.bands[vital]
        for band in bands[:-1]:
            if band.up_to is not None and value <= band.up_to:
                return band.score
        return bands[-1].score
