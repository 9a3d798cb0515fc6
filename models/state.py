"""Per-patient rule state, kept in a Faust table and in replay (pure data, no I/O)."""

from __future__ import annotations

from array import array
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_validator,
)
from pydantic.dataclasses import dataclass

from models.alerts import AlertStatus, Condition, Evidence, RuleRef, Severity
from models.event_id_column import EventIdColumn
from models.events import Profile, SymptomName, SymptomSeverity
from models.patient_messages import PatientMessage
from models.reading_columns import COLUMNS_FROM, ColumnsCache, StoredColumns, as_readings
from models.reading_columns import (
    Reading as Reading,  # defined with its stored columns; the rules import it here
)
from models.time_column import TimeColumn


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


def memory_of(model: BaseModel) -> dict[str, Any]:
    """A state's memory-only attributes (`_minutes`, `_baseline`, `_memo`, `_due`: never stored) as a
    dict. The rules read them on every event: `model._x` goes through Pydantic's attribute
    fallback, about a microsecond each."""
    private = model.__pydantic_private__
    if private is None:  # a model with private attributes always has them set
        raise TypeError(f"{type(model).__name__} keeps no private attributes")
    return private


if TYPE_CHECKING:
    StoredReadings = list[Reading]
else:  # a list (few readings, parsed natively) or the columns, made readings after validation
    StoredReadings = Annotated[list[Reading] | StoredColumns, AfterValidator(as_readings)]


@dataclass(slots=True, config=ConfigDict(extra="ignore"))
class TimedValue:
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
    confirm_due: datetime | None = None
    """A pending lone reading's deadline: with no repeat by then it pages as unconfirmed."""
    unconfirmed: bool = False
    """It paged as unconfirmed and nothing has confirmed it since."""
    rule: RuleRef
    title: str
    evidence: Evidence
    action: str
    notes: list[str] = Field(default_factory=list)


class QuietInForce(_State):
    """A nurse resolved the condition's finding as not needing action (rule file
    `[incidents.quiet_after_resolve]`): its rows at `severity` or below stay quiet from `ts` until
    `until` unless the pump's stop ends it first."""

    ts: datetime
    until: datetime
    severity: Severity
    by: str | None = None


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
    readings: StoredReadings = Field(default_factory=list)
    """In time order; stored as columns once there are many (models/reading_columns.py)."""
    latest_ts: dict[str, datetime] = Field(default_factory=dict)
    last_vitals_ts: datetime | None = None
    baseline: dict[str, float] = Field(default_factory=dict)
    baseline_final: bool = False
    pump_running_ts: datetime | None = None
    """The earliest pump event other than a start or a status: with no start event (lost, or not
    here yet), the infusion has begun by then for the phases."""
    baseline_unfit: list[str] = Field(default_factory=list)
    """The vitals of `baseline` the `baseline_before_start` rows judge without: taken from the
    readings after the start (none came before it), or made of a reading that fired one of those
    rows before the start (SpO2 91 % or less)."""
    thinned: bool = False
    """Its readings are thinned as they age (agents/rules/thinning.py): the backlog was, once the
    baseline froze."""
    thinned_out: TimeColumn = Field(default_factory=lambda: array("q"))
    """When the readings thinning dropped were taken (a late event is evaluated again at every
    later reading's time, kept or not)."""
    baseline_checked: bool = False
    baseline_grace_checked: bool = False
    """The baseline reminder's grace has ended (its page, or its closing, is done)."""
    stale_level: int = 0
    schedule_reading_ts: datetime | None = None
    """The latest reading counting as a set when the care schedule's steps were last taken."""
    schedule_step_ts: datetime | None = None
    """The last care-schedule step (reminder, page or end) taken since that reading."""
    symptoms: list[SymptomReport] = Field(default_factory=list)
    row_holding: dict[str, bool] = Field(default_factory=dict)
    row_last_fired: dict[str, datetime] = Field(default_factory=dict)
    alerts: dict[str, AlertState] = Field(default_factory=dict)
    fired_counts: dict[str, int] = Field(default_factory=dict)
    resolved_ts: dict[str, datetime] = Field(default_factory=dict)
    """When each condition's last alert was resolved: reports up to then do not raise it again."""
    quiet: dict[str, QuietInForce] = Field(default_factory=dict)
    """Conditions a nurse resolved as not needing action, kept quiet for a while."""
    high_risk_checks: list[str] = Field(default_factory=list)
    """The high_risk_session checks already made (each fires at most once per session)."""
    checkin_answered_ts: datetime | None = None
    """(check-ins) The latest answer: it counts for every check-in due by then (less `early_minutes`)."""
    checkin_step_ts: datetime | None = None
    """(check-ins) The last prompt, reminder or missed warning taken."""
    checkin_until: datetime | None = None
    """(check-ins) A later start of the patient ended this session's check-ins here (kept, so they
    stay ended after the later session is dropped)."""
    _minutes: Any = PrivateAttr(default=None)
    """The rules' per-minute index of `readings` (agents/rules/minute_index.py): memory only, never
    stored, rebuilt from the readings when missing."""
    _baseline: Any = PrivateAttr(default=None)
    """The rules' sorted baseline windows (agents/rules/baseline_windows.py), likewise."""
    _memo: Any = PrivateAttr(default=None)
    """Values the rules derive from a few of its fields (agents/rules/memo.py), likewise."""
    _columns: Any = PrivateAttr(default=None)
    """The stored columns of `readings` (models/reading_columns.py `ColumnsCache`), likewise: a
    checkpoint encodes only the readings added since the last one."""

    @field_serializer("readings", mode="wrap")
    def _readings_as_columns(
        self, readings: list[Reading], plain: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        """JSON: the columns; a Python dump: the readings as they are."""
        if not info.mode_is_json() or len(readings) < COLUMNS_FROM:
            return plain(readings)
        memory = memory_of(self)
        cache: ColumnsCache | None = memory["_columns"]
        if cache is None:
            cache = memory["_columns"] = ColumnsCache()
        return cache.columns(readings)

    legacy_long_history: dict[str, list[TimedValue]] = Field(
        default_factory=dict, validation_alias="long_history", exclude=True, repr=False
    )
    """A state stored when each session kept its own long history: read, then moved to the
    patient's (`PatientState._long_history_from_sessions`), never stored."""

    # Migrations run after validation, not before it: a whole-model "before" validator makes
    # Pydantic build the JSON as Python objects first (slower, and no shared dict keys).
    @model_validator(mode="after")
    def _baseline_origin_unknown(self) -> SessionState:
        """A state stored before `baseline_unfit` existed: a frozen baseline of unknown origin counts
        as unfit (the SpO2 rows then judge without it, as with none)."""
        if self.baseline_final and "baseline_unfit" not in self.model_fields_set:
            self.baseline_unfit = sorted(self.baseline)
        return self


class IncidentState(_State):
    """One of the patient's incidents: the alerts of one episode, paged and escalated as one."""

    incident_id: str
    session_id: str
    """The session of its first member."""
    opened_ts: datetime
    last_member_ts: datetime
    """When its last new member joined: a finding more than the rule file's gap later opens a new one."""
    severity: Severity = Severity.INFO
    """The highest severity of its confirmed members."""
    status: AlertStatus = AlertStatus.FIRING
    escalation_level: int = 0
    next_escalation_due: datetime | None = None
    members: list[str] = Field(default_factory=list)
    """Alert ids, in the order they joined."""
    closed: list[str] = Field(default_factory=list)
    """Members whose resolution was sent: the incident resolves with the last of them."""
    announced: bool = False
    """Its state was sent (once a member is confirmed)."""
    operational: bool = False
    """Made of findings about the monitoring itself (vitals overdue, no baseline)."""
    paged: Severity | None = None
    """The highest severity a member paged at since the incident was last acknowledged."""
    by: str | None = None
    """Who acknowledged it."""
    owner: str | None = None
    """(v2) Who owns it: the nurse who last acknowledged it, or to whom it was handed over."""
    remind_due: datetime | None = None
    """While acknowledged: when its owner is reminded that it is not resolved ([incidents.ack_timeout])."""
    reescalate_due: datetime | None = None
    """After the reminder: when it escalates again unless resolved."""
    hold_until: datetime | None = None
    """Its first page, at warning, is held until then ([incidents] group_wait_minutes) so that a
    more severe member arriving meanwhile pages alone."""
    patient_saw: datetime | None = None
    """When the patient's app showed the patient a message of this incident (its latest showing)."""
    owed: Condition | None = None
    """The condition whose instructions the patient has not had yet: it paged unconfirmed, so the
    patient was told only that a nurse is calling (patient channel); a nurse's acknowledgement
    sends them."""


class SettingInForce(_State):
    """(issue 16) A nurse's limit or snooze for this patient, in force for readings timed from `ts`
    to before `until`; it belongs to the patient, across sessions."""

    key: str
    """What it sets: the action's `alert_id` (`{patient}:limit:spo2:low`, `{patient}:snooze:hypoxemia`)."""
    by: str
    reason: str
    ts: datetime
    until: datetime


class LimitInForce(SettingInForce):
    vital: str
    side: str
    value: float


class SnoozeInForce(SettingInForce):
    condition: Condition
    rule: str | None = None


class PatientState(_State):
    """Everything the rules remember about one patient."""

    patient_id: str
    profile: Profile | None = None
    sessions: dict[str, SessionState] = Field(default_factory=dict)
    seen_event_ids: EventIdColumn = Field(default_factory=bytearray)
    """Digests of its newest event ids (agents/rules/seen_ids.py), oldest first."""
    closed_sessions: list[str] = Field(default_factory=list)
    """Recently dropped sessions (past post-late, no open alert): their late events are ignored."""
    clock: datetime | None = None
    long_history: dict[str, list[TimedValue]] = Field(default_factory=dict)
    """Readings of the vitals that windowed rows look back on, across the patient's sessions (48 h of
    weights over a multi-day course): each vital's longest window, bounded in count."""
    incidents: list[IncidentState] = Field(default_factory=list)
    """Open incidents (a resolved one is dropped)."""
    incident_count: int = 0
    outbox: list[PatientMessage] = Field(default_factory=list)
    """Messages to the patient that timers made (check-in prompts and reminders) and readiness
    answers: the patient channel sends them with the next evaluation's messages and empties it."""

    limits: list[LimitInForce] = Field(default_factory=list)
    """(issue 16) The nurses' limits for this patient, recent ones included after they ended."""
    snoozes: list[SnoozeInForce] = Field(default_factory=list)
    """(issue 16) The nurses' snoozes for this patient, recent ones included after they ended."""

    _due: Any = PrivateAttr(default=None)
    """When its timers are next due as the engine left it (agents/rules/timers.py `KnownDue`):
    memory only, never stored."""

    @model_validator(mode="after")
    def _long_history_from_sessions(self) -> PatientState:
        """A state stored when each session kept its own long history: theirs become the patient's."""
        merged: dict[str, list[TimedValue]] = {}
        for session in self.sessions.values():
            if session.legacy_long_history:
                for name, values in session.legacy_long_history.items():
                    merged.setdefault(name, []).extend(values)
                session.legacy_long_history = {}
        if merged and "long_history" not in self.model_fields_set:
            self.long_history = merged
        return self
