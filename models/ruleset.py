"""The rule file as data: thresholds, timings and texts, each row with its source guideline."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from models.alerts import Condition, Severity
from models.events import VITAL_NAMES, RiskFactor
from models.rule_checkins import CheckinRule
from models.rule_common import (
    ALL_PHASES,
    ActionText,
    Phase,
    PhaseList,
    Row,
    Source,
    Texts,
    Title,
    VitalName,
    check_template,
    repeated,
)
from models.rule_confirmation import ConfirmationRule
from models.rule_incidents import IncidentRule, InhibitRow
from models.rule_limits import PatientLimitsRule
from models.rule_news2 import EarlyWarningRule
from models.rule_patient import PatientRule
from models.rule_readiness import ReadinessRule
from models.rule_schedule import CareSchedule, ScheduleRow, SetAnchor, StaleDataRule
from models.rule_symptoms import (
    AnaphylaxisRule,
    InfusionReactionRule,
    MyastheniaRow,
    RespiratoryRow,
    RespiratoryRule,
    SymptomRule,
)

__all__ = [
    "ALL_PHASES",
    "AnaphylaxisRule",
    "CareSchedule",
    "EarlyWarningRule",
    "InfusionReactionRule",
    "MyastheniaRow",
    "Phase",
    "RespiratoryRow",
    "RespiratoryRule",
    "RuleSet",
    "ScheduleRow",
    "SetAnchor",
    "StaleDataRule",
    "SymptomRule",
    "ThresholdRule",
]

HIGH_RISK_PLACEHOLDERS = frozenset(
    {
        "risk_factors",
        "relative_factor",
        "stale_factor",
        "grace_minutes",
        "temperature",
        "fever_limit",
        "epinephrine",
    }
)


class ThresholdRule(Texts):
    """One single-vital row: every clause that is set must hold."""

    id: str
    condition: Condition
    vital: VitalName
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
    baseline_below: float | None = None
    or_baseline_missing: bool = False
    baseline_missing: bool = False
    baseline_before_start: bool = False
    """True: only a baseline taken before the start counts for this row; one taken from the first
    minutes after the start (no reading before it) counts as missing, since a reaction's own first
    readings may be in it."""
    tightened: bool = True
    """False: the row's relative limits stay as written for a high-risk patient ([risk]
    relative_limit_factor does not apply)."""
    window_hours: Annotated[float, Field(gt=0)] | None = None
    """With it, `rise_at_least` / `fall_at_least` compare with the lowest / highest reading of the
    vital in the previous `window_hours` of the patient (across the sessions of a multi-day course),
    instead of with the baseline."""

    @model_validator(mode="after")
    def _has_a_clause(self) -> Self:
        if all(getattr(self, c) is None for c in VALUE_CLAUSES) and not self.baseline_missing:
            raise ValueError(f"needs at least one of {list(VALUE_CLAUSES)}")
        if self.baseline_before_start and self.window_hours is not None:
            raise ValueError("baseline_before_start compares with the baseline: not with window_hours")
        if self.window_hours is not None and (
            self.fall_pct_over is not None
            or (self.rise_at_least is None) == (self.fall_at_least is None)
            or any(getattr(self, c) is not None for c in BASELINE_GATES)
        ):
            raise ValueError(
                "window_hours needs exactly one of rise_at_least, fall_at_least and no baseline clause"
            )
        return self

    @property
    def limit_side(self) -> str | None:
        """The side a patient's own limit of the vital moves (issue 16): `high` for a row with a fixed
        `at_least`/`above` limit, `low` for one with `at_most`/`below` (and no change from baseline
        the other way); None for critical rows and rows with no fixed limit of their own."""
        if self.severity not in (Severity.WARNING, Severity.URGENT):
            return None
        if (self.at_least is not None or self.above is not None) and self.fall_at_least is None:
            return "high"
        if (self.at_most is not None or self.below is not None) and self.rise_at_least is None:
            return "low"
        return None

    @property
    def has_baseline_gate(self) -> bool:
        """True when one of BASELINE_GATES is set (the hot path asks on every reading)."""
        return (
            self.baseline_at_least is not None
            or self.baseline_above is not None
            or self.baseline_below is not None
        )

    @property
    def relative(self) -> bool:
        """True when the row compares with the baseline (and so is tightened for high risk)."""
        return any(getattr(self, c) is not None for c in ("rise_at_least", "fall_at_least", "fall_pct_over"))


BASELINE_GATES = ("baseline_at_least", "baseline_above", "baseline_below")
VALUE_CLAUSES = ("at_least", "at_most", "below", "above", "rise_at_least", "fall_at_least", "fall_pct_over")


class HighRiskRow(Row):
    """A high_risk_session row; its title and action may name the risk factors and limits."""

    id: str
    severity: Severity
    title: Title
    action: ActionText
    source: Source

    @field_validator("title", "action")
    @classmethod
    def _template(cls, value: str) -> str:
        return check_template(value, HIGH_RISK_PLACEHOLDERS)


class BaselineFeverRow(HighRiskRow):
    temperature_at_least: Annotated[float, Field(ge=25, le=45)]


class HighRiskSessionRule(Row):
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


class Timing(Row):
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
    session_timeout_hours: Annotated[float, Field(gt=0)]


class Hysteresis(Row):
    temperature_c: Annotated[float, Field(ge=0)]
    spo2: Annotated[float, Field(ge=0)]
    weight_kg: Annotated[float, Field(ge=0)]
    default: Annotated[float, Field(ge=0)]

    @cached_property
    def margins(self) -> dict[str, float]:
        """Each vital's margin (the default for the vitals not named), looked up on every reading."""
        named = self.model_dump(exclude={"default"})
        return {v: float(named[v]) if named.get(v) is not None else self.default for v in VITAL_NAMES}

    def for_vital(self, vital: str) -> float:
        return self.margins.get(vital, self.default)


class RiskTightening(Row):
    source: str
    tightening_factors: frozenset[RiskFactor]
    relative_limit_factor: Annotated[float, Field(gt=0, le=1)]
    stale_limit_factor: Annotated[float, Field(gt=0, le=1)]


class BaselineRule(Texts):
    """`baseline_missing`: vitals with no baseline `baseline_post_start_minutes` after the start.

    With `grace_minutes`, it is first a reminder (pending, at `reminder_severity`, never paged) and
    pages only for the vitals still not read at all `grace_minutes` later; otherwise it pages at
    once."""

    id: str
    expected_vitals: tuple[str, ...]
    severity: Severity
    grace_minutes: Annotated[float, Field(ge=0, le=60)] = 0.0
    reminder_severity: Severity = Severity.INFO
    reminder_title: Title | None = None
    reminder_action: ActionText | None = None

    @field_validator("reminder_action")
    @classmethod
    def _reminder_template(cls, value: str | None) -> str | None:
        return value if value is None else check_template(value)


class RuleSetInfo(Row):
    id: str
    version: Annotated[str, Field(min_length=1)]
    source: str


class RuleSet(Row):
    """A whole rule file, validated."""

    ruleset: RuleSetInfo
    timing: Timing
    hysteresis: Hysteresis
    risk: RiskTightening
    baseline: BaselineRule
    stale_data: StaleDataRule
    care_schedule: CareSchedule
    threshold: Annotated[tuple[ThresholdRule, ...], Field(min_length=1)]
    early_warning_score: EarlyWarningRule
    infusion_reaction: InfusionReactionRule
    anaphylaxis: AnaphylaxisRule
    respiratory_compromise: RespiratoryRule
    symptom_rule: tuple[SymptomRule, ...] = ()
    high_risk_session: HighRiskSessionRule
    incidents: IncidentRule
    inhibit: tuple[InhibitRow, ...] = ()
    confirmation: ConfirmationRule
    patient: PatientRule
    checkin: CheckinRule
    readiness: ReadinessRule
    patient_limits: PatientLimitsRule | None = None
    """(issue 16) Bounds of the nurses' per-patient limits and snoozes; None: neither is allowed."""

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [row.id for row in self.threshold] + [row.id for row in self.symptom_rule]
        if duplicates := repeated(ids):
            raise ValueError(f"threshold and symptom_rule ids must be unique; repeated: {duplicates}")
        unknown = set(self.anaphylaxis.low_pressure_rules) - set(ids)
        if unknown:
            raise ValueError(f"anaphylaxis.low_pressure_rules names unknown rows {sorted(unknown)}")
        gap = self.anaphylaxis.new_episode_after_hours
        if gap is not None and gap * 60 <= self.timing.together_minutes:
            raise ValueError(
                "anaphylaxis.new_episode_after_hours must be longer than timing.together_minutes"
            )
        return self

    @model_validator(mode="after")
    def _checkins_within_post_late(self) -> Self:
        last = max(self.checkin.due_hours()) + self.checkin.missed_after_minutes / 60
        if last >= self.timing.post_late_days * 24:
            raise ValueError(
                "the last check-in's missed warning must fall within timing.post_late_days after the stop"
            )
        return self

    @model_validator(mode="after")
    def _limit_bounds_fit(self) -> Self:
        """Each limit bound moves some warning or urgent row and stays short of the extreme limits."""
        if self.patient_limits is None:
            return self
        for bound in self.patient_limits.bounds:
            name = f"patient_limits.bounds {bound.vital} {bound.side}"
            if not any(r.vital == bound.vital and r.limit_side == bound.side for r in self.threshold):
                raise ValueError(f"{name}: no warning or urgent threshold row of that side to move")
            for extreme in self.confirmation.extreme:
                if extreme.vital != bound.vital:
                    continue
                if bound.side == "low" and extreme.below is not None and bound.min <= extreme.below:
                    raise ValueError(f"{name}: min must stay above the extreme limit {extreme.below:g}")
                if bound.side == "high" and extreme.above is not None and bound.max >= extreme.above:
                    raise ValueError(f"{name}: max must stay below the extreme limit {extreme.above:g}")
        return self

    @property
    def version(self) -> str:
        return self.ruleset.version

    @cached_property
    def covered_by(self) -> dict[Condition, frozenset[Condition]]:
        """For each condition, the conditions whose open incident member covers it (inhibition)."""
        covering: dict[Condition, set[Condition]] = {}
        for row in self.inhibit:
            for condition in row.covers:
                covering.setdefault(condition, set()).add(row.when)
        return {condition: frozenset(whens) for condition, whens in covering.items()}

    @cached_property
    def rows_by_vital(self) -> dict[str, tuple[ThresholdRule, ...]]:
        """The threshold rows of each vital, in file order (indexed once per rule set)."""
        return {v: tuple(r for r in self.threshold if r.vital == v) for v in VITAL_NAMES}

    @cached_property
    def threshold_ids(self) -> frozenset[str]:
        """The ids of the single-vital threshold rows."""
        return frozenset(r.id for r in self.threshold)

    @cached_property
    def rows_by_condition(self) -> dict[Condition, tuple[ThresholdRule, ...]]:
        return {c: tuple(r for r in self.threshold if r.condition is c) for c in Condition}

    @cached_property
    def window_hours(self) -> dict[str, float]:
        """For each vital with a windowed row, how many hours of its readings the session keeps."""
        hours: dict[str, float] = {}
        for row in self.threshold:
            if row.window_hours is not None:
                hours[row.vital] = max(hours.get(row.vital, 0.0), row.window_hours)
        return hours
