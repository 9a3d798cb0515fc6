"""Per-patient rule state, kept in a Faust table and in replay (pure data, no I/O)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from models.alerts import AlertStatus, Condition, Evidence, RuleRef, Severity
from models.events import Profile, SymptomName, SymptomSeverity


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class Reading(_State):
    ts: datetime
    values: dict[str, float]
    on_oxygen: bool = False


class TimedValue(_State):
    ts: datetime
    value: float


class SymptomReport(_State):
    ts: datetime
    symptom: SymptomName
    severity: SymptomSeverity
    score: float | None = None


class RateStep(_State):
    """A rate increase: reactions cluster in the window after one."""

    ts: datetime
    rate_ml_per_h: float
    previous_rate_ml_per_h: float


class AlertState(_State):
    """One open alert of a session (at most one per condition)."""

    alert_id: str
    condition: Condition
    severity: Severity
    status: AlertStatus
    opened_ts: datetime
    escalation_level: int = 0
    next_escalation_due: datetime | None = None
    clear_since: datetime | None = None
    auto_resolvable: bool = False
    raised_by_vitals: bool = False
    """Some vital-sign reading (a threshold row or NEWS2) stands behind it."""
    pending: bool = False
    """Visible but not paging yet (a lone reading waiting for its repeat, a set of vitals within its
    grace): no escalation timer until it is confirmed."""
    rule: RuleRef
    title: str
    evidence: Evidence
    action: str
    notes: list[str] = Field(default_factory=list)


class SessionState(_State):
    session_id: str
    first_ts: datetime
    start_ts: datetime | None = None
    stop_ts: datetime | None = None
    last_infusion_ts: datetime | None = None
    paused: bool = False
    rate_ml_per_h: float | None = None
    rate_steps: list[RateStep] = Field(default_factory=list)
    product: str | None = None
    readings: list[Reading] = Field(default_factory=list)
    latest_ts: dict[str, datetime] = Field(default_factory=dict)
    long_history: dict[str, list[TimedValue]] = Field(default_factory=dict)
    """Readings of the vitals that windowed rows look back on (for example 48 h of weights)."""
    last_vitals_ts: datetime | None = None
    baseline: dict[str, float] = Field(default_factory=dict)
    baseline_final: bool = False
    baseline_checked: bool = False
    stale_level: int = 0
    symptoms: list[SymptomReport] = Field(default_factory=list)
    row_holding: dict[str, bool] = Field(default_factory=dict)
    row_last_fired: dict[str, datetime] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    fired_counts: dict[str, int] = Field(default_factory=dict)
    resolved_ts: dict[str, datetime] = Field(default_factory=dict)
    """When each condition's last alert was resolved: reports up to then do not raise it again."""
    high_risk_checks: list[str] = Field(default_factory=list)
    """The high_risk_session checks already made (each fires at most once per session)."""


class PatientState(_State):
    """Everything the rules remember about one patient."""

    patient_id: str
    profile: Profile | None = None
    sessions: dict[str, SessionState] = Field(default_factory=dict)
    seen_event_ids: list[str] = Field(default_factory=list)
    closed_sessions: list[str] = Field(default_factory=list)
    """Recently dropped sessions (past post-late, no open alert): their late events are ignored."""
    clock: datetime | None = None
