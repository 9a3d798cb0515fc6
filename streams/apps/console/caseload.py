"""The caseload board's picture (pure): a fold of `ivig.events.v1` into what the board shows of each
patient, and the board's rows at a given time, with the open incidents of the alert book.

The fold keeps, per session, only what the rules' own session functions need to place it in time:
start, stop, last pump event, pause, rate and rate increases, the time of the latest vitals reading
(never a value), the latest check-in answer; per patient only the profile's risk factors (the care
schedule tightens for a high-risk patient). Phase, vitals sets and check-ins come from the rules'
pure functions (agents/rules/session.py, vitals_schedule.py, checkins.py) with the clock as an
argument, so the board says what the rules will do.

Rows: every session infusing, or inside its post-infusion window (post-early, post-late), one per
patient (the latest started), and every patient with an open incident. Each row also lists the
patient's own limits and snoozes in force at the board's time (issue 16; `SettingActions.in_force`,
as the limits page shows them): they change nothing of the order. The order (`BoardRow.order`),
what needs a look first:
0. an open critical or urgent incident that needs a look (firing, escalated, or new since its
   acknowledgement);
1. vitals overdue on the care schedule (a set past its grace);
2. an open warning incident that needs a look, or a set of vitals due now (within its grace);
3. a rate increase within the rule file's rate-step window ([timing] rate_step_window_minutes);
4. any other open incident (acknowledged, or information only: nothing to do yet);
5. infusing, nothing outstanding; 6. in the post-infusion window, nothing outstanding.
Within a tier: the most severe open incident first, then the longest since the latest vitals (none
yet first), then by patient id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.rules import checkins, vitals_schedule
from agents.rules.session import (
    apply_infusion,
    apply_profile,
    get_session,
    latest_rate_step,
    phase_at,
    span,
    started_at,
)
from models.alerts import AlertStatus, Severity
from models.events import Checkin, Infusion, InfusionAction, Profile, Vitals
from models.rule_common import Phase
from models.ruleset import RuleSet
from models.state import PatientState, SessionState
from streams.apps.console.alertbook import AlertBook, Group, NoteView, rfc3339
from streams.apps.console.patient_settings import SettingActions

BoardEvent = Infusion | Vitals | Profile | Checkin
"""The events the board folds (the others change nothing it shows)."""
SHOWN_PHASES = frozenset({Phase.INFUSING, Phase.POST_EARLY, Phase.POST_LATE})
POST_PHASES = frozenset({Phase.POST_EARLY, Phase.POST_LATE})
PRESSING = frozenset({Severity.CRITICAL, Severity.URGENT})
UNOWNED = frozenset({AlertStatus.FIRING, AlertStatus.ESCALATED})


def _minutes(later: datetime, earlier: datetime | None) -> float | None:
    return None if earlier is None else round((later - earlier).total_seconds() / 60, 1)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


class Caseload:
    """Sessions and risk factors by patient, folded from events in any order (each fold is a max, a
    min or latest-wins, so a record read twice changes nothing)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.patients: dict[str, PatientState] = {}

    def apply(self, event: BoardEvent) -> bool:
        """Fold one event in; returns whether the board may have changed."""
        state = self.patients.get(event.patient_id)
        if state is None:
            state = self.patients[event.patient_id] = PatientState(patient_id=event.patient_id)
        if isinstance(event, Profile):
            only_risk = Profile(
                type="profile", patient_id=event.patient_id, ts=event.ts, risk_factors=event.risk_factors
            )
            return apply_profile(state, only_risk)
        session, _ = get_session(state, event.session_id, event.ts)
        if isinstance(event, Infusion):
            apply_infusion(session, event)  # a status message too: it delays the implied stop
            if event.action is InfusionAction.START:
                checkins.note_start(state, session)
            return True
        if isinstance(event, Checkin):
            last = session.checkin_answered_ts
            session.checkin_answered_ts = event.ts if last is None else max(last, event.ts)
            if event.temperature_c is None and event.weight_kg is None:
                return True
        if session.last_vitals_ts is None or event.ts > session.last_vitals_ts:
            session.last_vitals_ts = event.ts  # the time only: the board keeps no vital value
        return True

    def prune(self, now: datetime) -> bool:
        """Forget sessions past their post-infusion window, sessions that never started and have
        been quiet for the rule file's session timeout, and patients left with none whose profile is
        older than the board's history (`history_hours`)."""
        changed = False
        quiet = now - span(hours=self.rules.timing.session_timeout_hours)
        for patient_id, state in list(self.patients.items()):
            for session_id, session in list(state.sessions.items()):
                if session.start_ts is None:
                    gone = max(session.first_ts, session.last_vitals_ts or session.first_ts) < quiet
                else:
                    gone = phase_at(session, now, self.rules) is Phase.AFTER
                if gone:
                    del state.sessions[session_id]
                    changed = True
            profiled = state.profile is not None and state.profile.ts >= now - span(hours=self.history_hours)
            if not state.sessions and not profiled:
                del self.patients[patient_id]
        return changed

    @property
    def history_hours(self) -> float:
        """How far back the events are read at start: a session stopped up to the end of its
        post-infusion window, started up to twice the session timeout before that."""
        timing = self.rules.timing
        return timing.post_late_days * 24 + 2 * timing.session_timeout_hours

    def current(self, state: PatientState, now: datetime) -> SessionState | None:
        """The patient's session the board shows: the latest started one infusing or in its window."""
        shown = [
            s
            for s in state.sessions.values()
            if s.start_ts is not None and phase_at(s, now, self.rules) in SHOWN_PHASES
        ]
        return max(shown, key=lambda s: (s.start_ts, s.session_id), default=None)

    def rows(self, now: datetime, book: AlertBook, settings: SettingActions | None = None) -> list[BoardRow]:
        """The board at `now`, in its order (with each patient's limits and snoozes in force then,
        from `settings`)."""
        groups: dict[str, list[Group]] = {}
        for group in book.groups():
            patient = group.head.alert.patient_id
            if patient != "-":  # the pipeline's own alerts are not a patient's
                groups.setdefault(patient, []).append(group)
        rows = []
        for patient_id in sorted(set(self.patients) | set(groups)):
            state = self.patients.get(patient_id)
            session = self.current(state, now) if state is not None else None
            if session is not None or patient_id in groups:
                row = self._row(patient_id, state, session, groups.get(patient_id, []), now)
                if settings is not None:
                    edges = (
                        {}
                        if state is None
                        else {k: (started_at(s), s.stop_ts) for k, s in state.sessions.items()}
                    )
                    row.in_force = SettingView.in_force(settings, patient_id, now, self.rules, edges)
                rows.append(row)
        return sorted(rows, key=lambda r: r.order)

    def _row(
        self,
        patient_id: str,
        state: PatientState | None,
        session: SessionState | None,
        groups: list[Group],
        now: datetime,
    ) -> BoardRow:
        row = BoardRow(patient_id=patient_id, incidents=[IncidentView.of(g) for g in groups])
        row.note = _latest_note(groups)
        if state is None or session is None:
            return row
        rules = self.rules
        row.session_id, row.phase = session.session_id, phase_at(session, now, rules)
        row.product, row.paused, row.rate_ml_per_h = session.product, session.paused, session.rate_ml_per_h
        row.start, row.stop = session.start_ts, session.stop_ts
        if session.rate_steps:
            row.last_rate_step = session.rate_steps[-1].ts
        row.recent_rate_step = latest_rate_step(session, now, rules) is not None
        row.last_vitals = session.last_vitals_ts
        row.vitals = _vitals(state, session, now, rules)
        if row.phase in POST_PHASES:
            row.checkin = _checkin(state, session, rules)
        return row


@dataclass(slots=True)
class VitalsDue:
    """Where the patient is on the care schedule at the board's time."""

    status: str
    """`ok` (the next set is ahead), `due` (within its grace), `overdue` (past it), `done` (no set
    is asked for any more)."""
    next_due: datetime | None = None
    label: str | None = None
    late: datetime | None = None
    """When the set falls overdue: the rules page at the end of its grace, or of the grace of a set
    due within it (which joins it)."""


def _vitals(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> VitalsDue:
    sets = vitals_schedule.due_sets(state, session, rules)
    last = vitals_schedule.last_set_ts(session)
    end = vitals_schedule.schedule_end(sets, rules)
    if end is None or now > end:
        return VitalsDue("done")
    first = next((s for s in sets if not s.taken(last)), None)
    if first is None:
        return VitalsDue("done")
    status, late = "ok", None
    for step in vitals_schedule.steps(sets, last, rules):
        if step.kind is vitals_schedule.StepKind.END:
            break
        if step.kind is vitals_schedule.StepKind.PAGE and late is None:
            late = step.at  # the first group's page: a set due within its grace joins it
        if step.at < now:  # strictly past, as the rules take their steps
            status = "overdue" if step.kind is vitals_schedule.StepKind.PAGE else "due"
        elif late is not None:
            break
    return VitalsDue(status, first.due, first.label, late)


@dataclass(frozen=True, slots=True)
class CheckinDue:
    due: datetime
    day: int


def _checkin(state: PatientState, session: SessionState, rules: RuleSet) -> CheckinDue | None:
    """The first check-in after the infusion not answered yet."""
    for item in checkins.due_checkins(state, session, rules):
        if not item.answered(session.checkin_answered_ts):
            return CheckinDue(item.due, item.day)
    return None


def _latest_note(groups: list[Group]) -> NoteView | None:
    """The handoff note: the latest nurse note on the patient's open incidents (or their members)."""
    notes = [n for g in groups for e in (g.head, *g.members) for n in e.notes]
    return max(notes, key=lambda n: n.ts, default=None)


@dataclass(frozen=True, slots=True)
class IncidentView:
    """One open incident of the patient (or an alert of none), as the board shows it."""

    alert_id: str
    condition: str
    conditions: tuple[str, ...]
    """What it is about: an incident's open members' conditions, else the alert's own."""
    title: str
    severity: Severity
    status: AlertStatus
    needs_look: bool
    owner: str | None

    @classmethod
    def of(cls, group: Group) -> IncidentView:
        alert = group.head.alert
        severity = max((alert.severity, *(m.alert.severity for m in group.members)), key=lambda s: s.rank)
        owner = alert.owner or (alert.by if alert.status is AlertStatus.ACKNOWLEDGED else None)
        members = tuple(dict.fromkeys(m.alert.condition.value for m in group.members))
        return cls(
            alert.alert_id,
            alert.condition.value,
            members or (alert.condition.value,),
            alert.title,
            severity,
            alert.status,
            group.needs_look,
            owner,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "condition": self.condition,
            "conditions": list(self.conditions),
            "title": self.title,
            "severity": self.severity.value,
            "status": self.status.value,
            "needs_look": self.needs_look,
            "owner": self.owner,
        }


@dataclass(frozen=True, slots=True)
class SettingView:
    """One of the patient's own limits or snoozes in force, as the board shows it."""

    kind: str
    """`limit`, `snooze` or `quiet` (after a nurse's resolution)."""
    key: str
    """What it sets (the action's `alert_id`, e.g. `pt-a:limit:spo2:low`)."""
    text: str
    """As the limits page words it (who, until when, the reason)."""
    until: datetime

    @classmethod
    def in_force(
        cls,
        settings: SettingActions,
        patient_id: str,
        now: datetime,
        rules: RuleSet,
        edges: Mapping[str, tuple[datetime | None, datetime | None]] | None = None,
    ) -> list[SettingView]:
        """The patient's limits, snoozes, then quiets after a nurse's resolution, in force at `now`
        (the expired ones are not; `edges`: each session's start and stop, which end its quiets)."""
        shown = settings.in_force(patient_id, now, rules)
        quiets = settings.quiets(patient_id, now, rules, edges or {})
        return [
            cls(kind, entry["key"], entry["text"], datetime.fromisoformat(entry["until"]))
            for kind, entries in (("limit", shown["limits"]), ("snooze", shown["snoozes"]), ("quiet", quiets))
            for entry in entries
        ]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "text": self.text, "until": rfc3339(self.until)}


@dataclass(slots=True)
class BoardRow:
    """One patient on the board."""

    patient_id: str
    incidents: list[IncidentView] = field(default_factory=list)
    session_id: str | None = None
    phase: Phase | None = None
    """None: a patient with an open incident and no session the board follows."""
    product: str | None = None
    paused: bool = False
    rate_ml_per_h: float | None = None
    start: datetime | None = None
    stop: datetime | None = None
    last_rate_step: datetime | None = None
    recent_rate_step: bool = False
    last_vitals: datetime | None = None
    vitals: VitalsDue | None = None
    checkin: CheckinDue | None = None
    note: NoteView | None = None
    in_force: list[SettingView] = field(default_factory=list)
    """The patient's own limits and snoozes in force (issue 16)."""

    @property
    def worst(self) -> Severity | None:
        return max((i.severity for i in self.incidents), key=lambda s: s.rank, default=None)

    @property
    def owner(self) -> str | None:
        """Who owns the patient's incidents: the owner of the most severe one that has one."""
        owned = sorted((i for i in self.incidents if i.owner), key=lambda i: -i.severity.rank)
        return owned[0].owner if owned else None

    @property
    def tier(self) -> int:
        look = [i.severity for i in self.incidents if i.needs_look]
        vitals = self.vitals.status if self.vitals is not None else None
        if any(s in PRESSING for s in look):
            return 0
        if vitals == "overdue":
            return 1
        if Severity.WARNING in look or vitals == "due":
            return 2
        if self.recent_rate_step:
            return 3
        if self.incidents:
            return 4
        return 5 if self.phase is Phase.INFUSING else 6

    @property
    def order(self) -> tuple[int, int, float, str]:
        worst = self.worst
        # the longest since the latest vitals first; none yet before any
        last = self.last_vitals.timestamp() if self.last_vitals is not None else float("-inf")
        return (self.tier, -(worst.rank if worst is not None else -1), last, self.patient_id)

    def to_json(self, now: datetime) -> dict[str, Any]:
        vitals = self.vitals
        return {
            "patient_id": self.patient_id,
            "session_id": self.session_id,
            "phase": self.phase.value if self.phase is not None else None,
            "product": self.product,
            "paused": self.paused,
            "rate_ml_per_h": self.rate_ml_per_h,
            "start": _ts(self.start),
            "stop": _ts(self.stop),
            "last_rate_step": _ts(self.last_rate_step),
            "minutes_since_rate_step": _minutes(now, self.last_rate_step),
            "recent_rate_step": self.recent_rate_step,
            "last_vitals": _ts(self.last_vitals),
            "minutes_since_vitals": _minutes(now, self.last_vitals),
            "vitals_status": vitals.status if vitals is not None else None,
            "next_vitals_due": _ts(vitals.next_due) if vitals is not None else None,
            "next_vitals_set": vitals.label if vitals is not None else None,
            "vitals_late": _ts(vitals.late) if vitals is not None else None,
            "minutes_to_next_vitals": (
                -m if vitals is not None and (m := _minutes(now, vitals.next_due)) is not None else None
            ),
            "next_checkin_due": _ts(self.checkin.due) if self.checkin is not None else None,
            "next_checkin_day": self.checkin.day if self.checkin is not None else None,
            "incidents": [i.to_json() for i in self.incidents],
            "owner": self.owner,
            "note": self.note.to_json() if self.note is not None else None,
            "in_force": [s.to_json() for s in self.in_force],
            "tier": self.tier,
        }


def board_json(
    caseload: Caseload, book: AlertBook, now: datetime, settings: SettingActions | None = None
) -> dict[str, Any]:
    """GET /api/board and the stream's `board` event: the rows in order, and the time they are at."""
    return {"now": rfc3339(now), "rows": [r.to_json(now) for r in caseload.rows(now, book, settings)]}
