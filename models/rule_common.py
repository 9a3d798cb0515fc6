"""What every rule row shares: phases, the text templates and the row base classes."""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from models.events import VITAL_NAMES

ACTION_PLACEHOLDERS = frozenset(
    {"rate_advice", "rate", "previous_rate", "minutes_since_step", "recheck", "epinephrine"}
)


class Phase(StrEnum):
    PRE = "pre"
    INFUSING = "infusing"
    POST_EARLY = "post-early"
    POST_LATE = "post-late"
    AFTER = "after"
    """More than `post_late_days` after the stop: no rule applies."""


ALL_PHASES = (Phase.PRE, Phase.INFUSING, Phase.POST_EARLY, Phase.POST_LATE)


class Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_template(text: str, allowed: frozenset[str] = ACTION_PLACEHOLDERS) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    unknown = names - allowed
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    return text


def repeated(values: list[str]) -> list[str]:
    """The values that occur more than once, sorted (the ids a rule file repeats)."""
    return sorted({v for v in values if values.count(v) > 1})


def expand_phases(phases: list[str]) -> tuple[Phase, ...]:
    if "any" in phases:
        return ALL_PHASES
    return tuple(Phase(p) for p in phases)


def _known_vital(value: str) -> str:
    if value not in VITAL_NAMES:
        raise ValueError(f"unknown vital; expected one of {list(VITAL_NAMES)}")
    return value


VitalName = Annotated[str, AfterValidator(_known_vital)]
"""A vital of the contract (models.events.VITAL_NAMES)."""

PhaseList = Annotated[tuple[Phase, ...], Field(min_length=1)]
Title = Annotated[str, Field(min_length=1, max_length=120)]
ActionText = Annotated[str, Field(min_length=1, max_length=400)]
Source = Annotated[str, Field(min_length=3)]


class Texts(Row):
    """A row a nurse reads: its title, its action (a template) and the guideline it comes from."""

    title: Title
    action: ActionText
    source: Source

    @field_validator("action")
    @classmethod
    def _action_template(cls, value: str) -> str:
        return check_template(value)

    @field_validator("phases", mode="before", check_fields=False)
    @classmethod
    def _phases(cls, value: object) -> object:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return expand_phases(value)
        return value


def severity_by_phase(value: object) -> object:
    """A plain severity applies in every phase; a table maps phases (or "any") to severities."""
    if isinstance(value, str):
        return dict.fromkeys(ALL_PHASES, value)
    if isinstance(value, dict) and "any" in value:
        rest = {k: v for k, v in value.items() if k != "any"}
        return {**dict.fromkeys(ALL_PHASES, value["any"]), **rest}
    return value
