"""The rule file as data: thresholds, timings and texts, each row with its source guideline."""

from __future__ import annotations

import string
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.alerts import Condition, Severity
from models.events import VITAL_NAMES, RiskFactor, SymptomName

ACTION_PLACEHOLDERS = frozenset(
    {"rate_advice", "rate", "previous_rate", "minutes_since_step", "recheck", "epinephrine"}
)
HIGH_RISK_PLACEHOLDERS = frozenset(
    {
        "risk_factors",
        "relative_factor",
        "stale_factor",
        "stale_warning_minutes",
        "stale_urgent_minutes",
        "temperature",
        "fever_limit",
        "epinephrine",
    }
)


class Phase(StrEnum):
    PRE = "pre"
    INFUSING = "infusing"
    POST_EARLY = "post-early"
    POST_LATE = "post-late"
    AFTER = "after"
    """More than `post_late_days` after the stop: no rule applies."""


ALL_PHASES = (Phase.PRE, Phase.INFUSING, Phase.POST_EARLY, Phase.POST_LATE)


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_template(text: str, allowed: frozenset[str] = ACTION_PLACEHOLDERS) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    unknown = names - allowed
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    return text


def _expand_phases(phases: list[str]) -> tuple[Phase, ...]:
    if "any" in phases:
        return ALL_PHASES
    return tuple(Phase(p) for p in phases)


PhaseList = Annotated[tuple[Phase, ...], Field(min_length=1)]


class _Texts(_Row):
    title: Annotated[str, Field(min_length=1, max_length=120)]
    action: Annotated[str, Field(min_length=1, max_length=400)]
    source: Annotated[str, Field(min_length=3)]

    @field_validator("action")
    @classmethod
    def _action_template(cls, value: str) -> str:
        return _check_template(value)

    @field_validator("phases", mode="before", check_fields=False)
    @classmethod
    def _phases(cls, value: object) -> object:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return _expand_phases(value)
        return value


class ThresholdRule(_Texts):
    """One single-vital row: every clause that is set must hold."""

    id: str
    condition: Condition
    vital: str
    severity: Severity
    phases: PhaseList
    at_least: float | None = None
    at_most: float | None = None
    below: float | None = None
    above: float | None = None
    rise_at_least: float | None = None
    fall_at_least: float | None = None
    fall_pct_over: float | None = None
    baseline_at_least: float | None = None
    baseline_above: float | None = None
    or_baseline_missing: bool = False
    baseline_missing: bool = False

    @field_validator("vital")
    @classmethod
    def _known_vital(cls, value: str) -> str:
        if value not in VITAL_NAMES:
            raise ValueError(f"unknown vital; expected one of {list(VITAL_NAMES)}")
        return value

    @model_validator(mode="after")
    def _has_a_clause(self) -> Self:
        if all(getattr(self, c) is None for c in VALUE_CLAUSES) and not self.baseline_missing:
            raise ValueError(f"needs at least one of {list(VALUE_CLAUSES)}")
        return self

    @property
    def relative(self) -> bool:
        """True when the row compares with the baseline (and so is tightened for high risk)."""
        return any(getattr(self, c) is not None for c in ("rise_at_least", "fall_at_least", "fall_pct_over"))


VALUE_CLAUSES = ("at_least", "at_most", "below", "above", "rise_at_least", "fall_at_least", "fall_pct_over")


class InfusionReactionRule(_Texts):
    id: str
    phases: PhaseList
    side_effects: frozenset[SymptomName]
    red_flags: frozenset[SymptomName]
    severity: Severity
    raised_severity: Severity
    red_flag_severity: Severity
    severe_score: Annotated[float, Field(ge=0, le=10)]
    together_count: Annotated[int, Field(ge=2)]


class AnaphylaxisRule(_Texts):
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


def _severity_by_phase(value: object) -> object:
    """A plain severity applies in every phase; a table maps phases (or "any") to severities."""
    if isinstance(value, str):
        return dict.fromkeys(ALL_PHASES, value)
    if isinstance(value, dict) and "any" in value:
        rest = {k: v for k, v in value.items() if k != "any"}
        return {**dict.fromkeys(ALL_PHASES, value["any"]), **rest}
    return value


class RespiratoryRow(_Texts):
    """One respiratory_compromise row; `severity` by phase (a phase left out: the row is off)."""

    id: str
    severity: Annotated[dict[Phase, Severity], Field(min_length=1)]

    @field_validator("severity", mode="before")
    @classmethod
    def _by_phase(cls, value: object) -> object:
        return _severity_by_phase(value)

    @field_validator("severity")
    @classmethod
    def _no_after(cls, value: dict[Phase, Severity]) -> dict[Phase, Severity]:
        if Phase.AFTER in value:
            raise ValueError("no rule applies in the 'after' phase")
        return value


class MyastheniaRow(RespiratoryRow):
    symptoms: Annotated[frozenset[SymptomName], Field(min_length=1)]
    respiratory_rate_rise_at_least: Annotated[float, Field(gt=0)]


class RespiratoryRule(_Row):
    """Breathing symptoms with or without low SpO2 / fast breathing; the myasthenia caveat."""

    breathing_symptoms: Annotated[frozenset[SymptomName], Field(min_length=1)]
    spo2_at_most: Annotated[float, Field(gt=0, le=100)]
    respiratory_rate_at_least: Annotated[float, Field(gt=0)]
    with_vitals: RespiratoryRow
    alone: RespiratoryRow
    myasthenia: MyastheniaRow


class HighRiskRow(_Row):
    """A high_risk_session row; its title and action may name the risk factors and limits."""

    id: str
    severity: Severity
    title: Annotated[str, Field(min_length=1, max_length=120)]
    action: Annotated[str, Field(min_length=1, max_length=400)]
    source: Annotated[str, Field(min_length=3)]

    @field_validator("title", "action")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_template(value, HIGH_RISK_PLACEHOLDERS)


class BaselineFeverRow(HighRiskRow):
    temperature_at_least: Annotated[float, Field(ge=25, le=45)]


class HighRiskSessionRule(_Row):
    """At a session's first events: risk factors (limits tightened); reasons not to start at all."""

    tightened: HighRiskRow
    no_epinephrine: HighRiskRow
    baseline_fever: BaselineFeverRow

    @model_validator(mode="after")
    def _do_not_start_outranks(self) -> Self:
        for name in ("no_epinephrine", "baseline_fever"):
            if getattr(self, name).severity.rank <= self.tightened.severity.rank:
                raise ValueError(f"{name}.severity must be above tightened.severity")
        return self


class Timing(_Row):
    together_minutes: Annotated[float, Field(gt=0)]
    baseline_pre_minutes: Annotated[float, Field(gt=0)]
    baseline_post_start_minutes: Annotated[float, Field(gt=0)]
    post_early_hours: Annotated[float, Field(gt=0)]
    post_late_days: Annotated[float, Field(gt=0)]
    rate_step_window_minutes: Annotated[float, Field(gt=0)]
    resolve_after_minutes: Annotated[float, Field(gt=0)]
    escalate_critical_minutes: Annotated[float, Field(gt=0)]
    escalate_urgent_minutes: Annotated[float, Field(gt=0)]
    max_escalation_level: Annotated[int, Field(ge=0, le=10)]
    stale_warning_minutes: Annotated[float, Field(gt=0)]
    stale_urgent_minutes: Annotated[float, Field(gt=0)]
    session_timeout_hours: Annotated[float, Field(gt=0)]


class Hysteresis(_Row):
    temperature_c: Annotated[float, Field(ge=0)]
    spo2: Annotated[float, Field(ge=0)]
    default: Annotated[float, Field(ge=0)]

    def for_vital(self, vital: str) -> float:
        if vital == "temperature_c":
            return self.temperature_c
        return self.spo2 if vital == "spo2" else self.default


class RiskTightening(_Row):
    source: str
    tightening_factors: frozenset[RiskFactor]
    relative_limit_factor: Annotated[float, Field(gt=0, le=1)]
    stale_limit_factor: Annotated[float, Field(gt=0, le=1)]


class BaselineRule(_Row):
    expected_vitals: tuple[str, ...]
    severity: Severity
    source: str
    action: str


class RuleSetInfo(_Row):
    id: str
    version: Annotated[str, Field(min_length=1)]
    source: str


class RuleSet(_Row):
    """A whole rule file, validated."""

    ruleset: RuleSetInfo
    timing: Timing
    hysteresis: Hysteresis
    risk: RiskTightening
    baseline: BaselineRule
    threshold: Annotated[tuple[ThresholdRule, ...], Field(min_length=1)]
    infusion_reaction: InfusionReactionRule
    anaphylaxis: AnaphylaxisRule
    respiratory_compromise: RespiratoryRule
    high_risk_session: HighRiskSessionRule

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [row.id for row in self.threshold]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"threshold ids must be unique; repeated: {duplicates}")
        unknown = set(self.anaphylaxis.low_pressure_rules) - set(ids)
        if unknown:
            raise ValueError(f"anaphylaxis.low_pressure_rules names unknown rows {sorted(unknown)}")
        return self

    @property
    def version(self) -> str:
        return self.ruleset.version
