"""Alerts on `ivig.alerts.v1` (contract v2)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from models.events import EventTime, Outcome


class Severity(StrEnum):
    """Alert severity; compare with `rank` (info < warning < urgent < critical)."""

    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = [Severity.INFO, Severity.WARNING, Severity.URGENT, Severity.CRITICAL]


class AlertStatus(StrEnum):
    FIRING = "firing"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Condition(StrEnum):
    FEVER = "fever"
    TEMPERATURE_RISE = "temperature_rise"
    HYPOTENSION = "hypotension"
    HYPERTENSION = "hypertension"
    TACHYCARDIA = "tachycardia"
    BRADYCARDIA = "bradycardia"
    TACHYPNEA = "tachypnea"
    BRADYPNEA = "bradypnea"
    HYPOXEMIA = "hypoxemia"
    EARLY_WARNING_SCORE = "early_warning_score"
    INFUSION_REACTION = "infusion_reaction"
    ANAPHYLAXIS = "anaphylaxis"
    RESPIRATORY_COMPROMISE = "respiratory_compromise"
    ASEPTIC_MENINGITIS = "aseptic_meningitis"
    THROMBOSIS = "thrombosis"
    RENAL_INJURY = "renal_injury"
    HEMOLYSIS = "hemolysis"
    STALE_DATA = "stale_data"
    BASELINE_MISSING = "baseline_missing"
    HIGH_RISK_SESSION = "high_risk_session"
    MISSED_CHECKIN = "missed_checkin"
    """(v2) A check-in after the infusion was not answered."""
    NOT_READY = "not_ready"
    """(v2) The readiness check before a start says: do not start yet."""
    PIPELINE_STALLED = "pipeline_stalled"
    ONCALL_GAP = "oncall_gap"
    """(v2) The pager bridge found nobody on call for a page and paged the roster's fallback contact."""
    PAGE_UNDELIVERED = "page_undelivered"
    """(v2) A page to the person on call failed for good; the roster's fallback contact was paged."""
    INCIDENT = "incident"
    """Not a finding: the state of one of the patient's incidents (contract v2)."""


class RuleRef(BaseModel):
    """Which rule fired: its id and the version of the rule set it belongs to."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: str


class Evidence(BaseModel):
    """The observations behind an alert."""

    model_config = ConfigDict(frozen=True)

    summary: str = Field(description="One sentence: what was seen, against what limit")
    phase: str
    values: dict[str, float] = Field(default_factory=dict)
    baseline: dict[str, float] = Field(default_factory=dict)
    change: dict[str, float] = Field(default_factory=dict, description="value minus baseline")
    symptoms: list[str] = Field(default_factory=list)
    rate_ml_per_h: float | None = None
    previous_rate_ml_per_h: float | None = None
    minutes_since_rate_step: float | None = None
    observed_at: datetime | None = None


class Alert(BaseModel):
    """The new state of one alert."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    patient_id: str
    session_id: str
    status: AlertStatus
    severity: Severity
    condition: Condition
    ts: EventTime
    escalation_level: Annotated[int, Field(ge=0)] = 0
    title: str
    evidence: Evidence
    action: str
    rule: RuleRef
    by: str | None = None
    note: str | None = None
    incident_id: str | None = None
    """The patient's incident this alert belongs to (contract v2); None on the pipeline's own alerts."""
    page: bool = False
    """True when this message asks a nurse to act, on the pager or in the console (contract v2): a
    new or raised finding, an escalation; false for pending findings, information and updates."""
    owner: str | None = None
    """(v2) Who owns the incident once acknowledged: the nurse who acknowledged it, or to whom it
    was handed over (a console login name)."""
    notify: str | None = None
    """(v2) A page meant for one person only (an acknowledgement reminder names the incident's
    owner); None: whoever the roster puts on call for this severity and escalation level."""
    outcome: Outcome | None = None
    """(v2) On a `resolved` message of a nurse's resolution: what it turned out to be."""
    action_taken: str | None = None
    """(v2) On a `resolved` message of a nurse's resolution: what was done."""
    pending: bool = False
    """(v2) A finding shown but not paged yet: a lone reading waiting for its repeat, a set of vitals
    within its grace. The same alert pages once confirmed (or unconfirmed after the delay)."""
