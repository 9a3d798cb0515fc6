"""Vitals on the care schedule (clinical reference Part B 4.1, issue 14 part 4): which set of vitals
is due when, whether it was taken, and when `stale_data` ("vitals overdue on the care schedule")
reminds and pages.

Pure: computed from the session (start, rate increases, stop), the profile's risk factors and the
latest reading of each vital; the only state it keeps is how far its steps have been taken
(`SessionState.schedule_reading_ts`, `schedule_step_ts`).

- **Sets.** Each `[[care_schedule.sets]]` row gives a set due at its anchor plus `due_minutes`: the
  start, each rate increase, every `every_minutes` at a steady rate (after the start and after each
  rate increase, until the next increase or the stop), the stop (the implied stop of a session whose
  stop never came). Sets of the infusing anchors due at or after the stop are not asked for; a row
  with `only_for` only from a patient with one of those risk factors.
- **Taken.** A set is taken when any vitals reading is timed at or after its due time less
  `early_minutes`: the latest reading counts for every set due up to then.
- **Overdue.** The sets not taken, in due order, form groups: a set due within the grace of the
  group before it joins that group. Each group is a reminder at its first due time (a pending
  finding, no page) and a page at its last set's late time (due + grace, the grace x
  `risk.stale_limit_factor` for a high-risk patient on a `tightened` row): the first severity for
  the first group after the latest reading, the second from the second. `closes_after_minutes` after
  the last set's late time the schedule ends: an overdue alert still open then closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from agents.rules.explain import action_text, evidence
from agents.rules.lifecycle import Finding
from agents.rules.memo import remembered
from agents.rules.registry import RuleLine, register
from agents.rules.session import effective_stop, is_high_risk, phase_at, span
from models.alerts import Condition
from models.events import RiskFactor
from models.rule_schedule import INFUSING_ANCHORS, ScheduleRow, SetAnchor
from models.ruleset import RuleSet
from models.state import PatientState, SessionState


@dataclass(slots=True)
class DueSet:
    """One set of vitals the schedule asks for (not frozen: built by the dozen on every reading)."""

    row: ScheduleRow
    due: datetime
    counts_from: datetime
    """A reading timed at or after this counts for the set."""
    late: datetime
    """Overdue (a page) once the clock is past this."""
    grace_minutes: float
    """The row's grace, tightened for a high-risk patient."""

    @property
    def label(self) -> str:
        return self.row.id.rpartition(".")[2].replace("_", "-")

    def taken(self, last: datetime | None) -> bool:
        return last is not None and last >= self.counts_from


class StepKind(Enum):
    REMINDER = "reminder"
    PAGE = "page"
    END = "end"


@dataclass(frozen=True, slots=True)
class Step:
    """Something the schedule does at `at` (once the clock is strictly past it)."""

    at: datetime
    kind: StepKind
    sets: tuple[DueSet, ...] = ()
    """The group of sets not taken (empty for the end)."""
    missed: int = 0
    """1 for the first group since the latest reading, 2 for the second, ..."""


@dataclass(frozen=True, slots=True)
class Closing:
    """The open overdue alert closes at `ts` (resolved); `summary` says why."""

    ts: datetime
    summary: str


def grace_minutes(row: ScheduleRow, high_risk: bool, rules: RuleSet) -> float:
    factor = rules.risk.stale_limit_factor if high_risk and row.tightened else 1.0
    return row.grace_minutes * factor


def _anchors(
    row: ScheduleRow, every: timedelta | None, start: datetime, steps: tuple[datetime, ...], stop: datetime
) -> Iterator[datetime]:
    if row.anchor is SetAnchor.START:
        yield start
    elif row.anchor is SetAnchor.RATE_STEP:
        yield from steps
    elif row.anchor is SetAnchor.STOP:
        yield stop
    elif every is not None:  # steady (the rule-file model requires its interval)
        points = [start, *steps]
        for point, until in zip(points, [*steps, stop], strict=True):
            at = point + every
            while at < until:
                yield at
                at += every


def due_sets(state: PatientState, session: SessionState, rules: RuleSet) -> tuple[DueSet, ...]:
    """Every set the schedule asks for in this session (taken or not), in due order."""
    key = _sets_key(state, session, rules)
    return () if key is None else _build(*key, rules)


def _sets_key(
    state: PatientState, session: SessionState, rules: RuleSet
) -> tuple[datetime, datetime, tuple[datetime, ...], bool, frozenset[RiskFactor]] | None:
    """What the session's sets are built from: its start, stop, rate increases and risk factors."""
    start = session.start_ts
    if start is None:
        return None
    stop = effective_stop(session, rules) or start + span(hours=rules.timing.session_timeout_hours)
    steps = tuple(s.ts for s in session.rate_steps if start < s.ts < stop)
    high = is_high_risk(state, rules)
    factors = frozenset(state.profile.risk_factors) if state.profile is not None else frozenset()
    return start, stop, steps, high, factors


@dataclass(frozen=True, slots=True)
class _RowTimes:
    """A row's durations, computed once per rule set and risk level."""

    row: ScheduleRow
    due: timedelta
    early: timedelta
    grace: timedelta
    grace_minutes: float
    every: timedelta | None


_ROW_TIMES: dict[tuple[int, bool], tuple[RuleSet, tuple[_RowTimes, ...]]] = {}


def _row_times(rules: RuleSet, high: bool) -> tuple[_RowTimes, ...]:
    known = _ROW_TIMES.get((id(rules), high))
    if known is not None and known[0] is rules:
        return known[1]
    times = []
    for row in rules.care_schedule.sets:
        grace = grace_minutes(row, high, rules)
        every = None if row.every_minutes is None else timedelta(minutes=row.every_minutes)
        due, early = timedelta(minutes=row.due_minutes), timedelta(minutes=row.early_minutes)
        times.append(_RowTimes(row, due, early, timedelta(minutes=grace), grace, every))
    if len(_ROW_TIMES) >= 64:  # rule sets reloaded again and again (tests): forget the old ones
        _ROW_TIMES.clear()
    _ROW_TIMES[(id(rules), high)] = (rules, tuple(times))
    return tuple(times)


def _build(
    start: datetime,
    stop: datetime,
    steps: tuple[datetime, ...],
    high: bool,
    factors: frozenset[RiskFactor],
    rules: RuleSet,
) -> tuple[DueSet, ...]:
    sets: list[DueSet] = []
    for times in _row_times(rules, high):
        row = times.row
        if row.only_for and not row.only_for & factors:
            continue
        infusing = row.anchor in INFUSING_ANCHORS
        for anchor in _anchors(row, times.every, start, steps, stop):
            due = anchor + times.due
            if infusing and due >= stop:
                continue  # nothing is asked for while infusing once the pump has stopped
            sets.append(DueSet(row, due, due - times.early, due + times.grace, times.grace_minutes))
    sets.sort(key=_due_of)
    return tuple(sets)


def _due_of(item: DueSet) -> datetime:
    return item.due


def last_set_ts(session: SessionState) -> datetime | None:
    """The time of the latest reading: any vitals reading counts as a set (a worn oximeter's too)."""
    return session.last_vitals_ts


def schedule_end(sets: tuple[DueSet, ...], rules: RuleSet) -> datetime | None:
    """When the schedule ends: `closes_after_minutes` after its last set fell overdue."""
    if not sets:
        return None
    return max(s.late for s in sets) + span(minutes=rules.care_schedule.closes_after_minutes)


def steps(sets: tuple[DueSet, ...], last: datetime | None, rules: RuleSet) -> Iterator[Step]:
    """The reminders and pages of the sets not taken since `last`, then the end, in time order."""
    group: list[DueSet] = []
    late: datetime | None = None
    missed = 0
    for item in sets:
        if item.taken(last):
            continue
        if late is not None and item.due <= late:
            group.append(item)  # due within the grace of the group before: it takes it over
            late = max(late, item.late)
            continue
        if late is not None:
            yield Step(late, StepKind.PAGE, tuple(group), missed)
        missed += 1
        group, late = [item], item.late
        yield Step(item.due, StepKind.REMINDER, (item,), missed)
    if late is not None:
        yield Step(late, StepKind.PAGE, tuple(group), missed)
    end = schedule_end(sets, rules)
    if end is not None:
        yield Step(end, StepKind.END)


@dataclass(frozen=True, slots=True)
class _Position:
    sets: tuple[DueSet, ...]
    last: datetime | None
    """The latest reading that counts as a set."""
    pending: Iterator[Step]
    """The steps not taken yet since `last`, in time order (the end only when it has an alert to close)."""


def _position(state: PatientState, session: SessionState, rules: RuleSet) -> _Position:
    last = last_set_ts(session)
    done = session.schedule_step_ts if session.schedule_reading_ts == last else None
    sets = due_sets(state, session, rules)
    pending = (
        s
        for s in steps(sets, last, rules)
        if (done is None or s.at > done)
        and (s.kind is not StepKind.END or Condition.STALE_DATA.value in session.alerts)
    )
    return _Position(sets, last, pending)


def next_step(state: PatientState, session: SessionState, rules: RuleSet) -> datetime | None:
    """When the schedule's next step falls due (it is taken once the clock is strictly past it).
    Asked at every event and tick, it changes only with the sets, the latest reading, the steps
    taken and whether an overdue alert is open: remembered per session."""
    last = last_set_ts(session)
    key = (
        _sets_key(state, session, rules),
        last,
        session.schedule_step_ts if session.schedule_reading_ts == last else None,
        Condition.STALE_DATA.value in session.alerts,
    )
    return remembered(
        session, "care_schedule_next_step", key, rules, lambda: _next_step(state, session, rules)
    )


def _next_step(state: PatientState, session: SessionState, rules: RuleSet) -> datetime | None:
    last = last_set_ts(session)
    key = _sets_key(state, session, rules)
    if key is not None and not (session.schedule_step_ts is not None and session.schedule_reading_ts == last):
        # no step taken since the latest reading (after every reading): the first set not taken
        # is the next step, its reminder; found without building the sets
        first = first_untaken_due(*key, last, rules)
        if first is not None:
            return first
    step = next(_position(state, session, rules).pending, None)
    return None if step is None else step.at


def first_untaken_due(
    start: datetime,
    stop: datetime,
    steps: tuple[datetime, ...],
    high: bool,
    factors: frozenset[RiskFactor],
    last: datetime | None,
    rules: RuleSet,
) -> datetime | None:
    """The due time of the first set (in due order) that a reading at `last` does not count for,
    as `_build` would list them; None when every set is taken."""
    best: datetime | None = None
    for times in _row_times(rules, high):
        row = times.row
        if row.only_for and not row.only_for & factors:
            continue
        infusing = row.anchor in INFUSING_ANCHORS
        for due in _first_dues(row, times, start, steps, stop, last):
            if (infusing and due >= stop) or (last is not None and last >= due - times.early):
                continue
            if best is None or due < best:
                best = due
    return best


def _first_dues(
    row: ScheduleRow,
    times: _RowTimes,
    start: datetime,
    steps: tuple[datetime, ...],
    stop: datetime,
    last: datetime | None,
) -> Iterator[datetime]:
    """Per anchor kind, the due times that may be the row's first set not taken: every one of a
    start, stop or rate step; of each steady stretch only its first set past `last`."""
    every = times.every
    if row.anchor is not SetAnchor.STEADY or every is None:
        yield from (anchor + times.due for anchor in _anchors(row, every, start, steps, stop))
        return
    for point, until in zip([start, *steps], [*steps, stop], strict=True):
        k = 1 if last is None else max(1, (last + times.early - times.due - point) // every + 1)
        at = point + every * k
        if at < until:
            yield at + times.due


def overdue(
    state: PatientState, session: SessionState, now: datetime, rules: RuleSet
) -> Iterator[Finding | Closing]:
    """The reminders, pages and closings due by `now` (strictly past their time), in order. Apply
    each before taking the next: a closing applies to the overdue alert open at that point."""
    upcoming = next_step(state, session, rules)
    if (upcoming is None or upcoming >= now) and not late_vitals_may_close(session):
        return  # (on most events and ticks: no sets to build)
    position = _position(state, session, rules)
    last = position.last
    for step in position.pending:
        if step.at >= now:  # strictly past: a reading on the minute is on time
            break
        session.schedule_reading_ts, session.schedule_step_ts = last, step.at
        if step.kind is StepKind.END:
            yield Closing(step.at, f"The care schedule ended at {step.at:%H:%M} UTC: no set is due after it")
        else:
            yield _finding(state, session, step, last, rules)
    current = session.alerts.get(Condition.STALE_DATA.value)
    if (
        current is not None
        and last is not None
        and last < current.opened_ts
        and not any(s.due < now and not s.taken(last) for s in position.sets)
    ):
        # vitals timed before the set fell due arrived after its reminder (or page): they count for
        # it; closed as of the alert's last change, so its messages stay in time order
        changed = max(current.opened_ts, current.evidence.observed_at or current.opened_ts)
        yield Closing(changed, f"Vitals taken at {last:%H:%M} UTC count for every set due so far")


def late_vitals_may_close(session: SessionState) -> bool:
    """An overdue alert is open and the latest vitals are timed before it: if they count for every
    set due so far, `overdue` closes it at the clock's next move, at no step's time."""
    current = session.alerts.get(Condition.STALE_DATA.value)
    last = last_set_ts(session)
    return current is not None and last is not None and last < current.opened_ts


def _finding(
    state: PatientState, session: SessionState, step: Step, last: datetime | None, rules: RuleSet
) -> Finding:
    stale, first = rules.stale_data, step.sets[0]
    phase = phase_at(session, step.at, rules)
    reminder = step.kind is StepKind.REMINDER
    since = f"no vitals since {last:%H:%M} UTC" if last is not None else "no vitals yet this session"
    sets = ", ".join(f"{s.label} set due {s.due:%H:%M}" for s in step.sets)
    high = " (high-risk patient)" if first.grace_minutes != first.row.grace_minutes else ""
    if reminder:
        severity, title, template = stale.reminder_severity, stale.reminder_title, stale.reminder_action
        summary = f"Due now: {sets} UTC; {since}; overdue {first.grace_minutes:g} min after it is due{high}"
    else:
        severity = stale.severities[0 if step.missed == 1 else 1]
        title, template = stale.title, stale.action
        missed = "missed" if step.missed == 1 else f"missed ({step.missed} sets in a row)"
        summary = (
            f"Overdue on the care schedule: {sets} UTC {missed}; {since}; "
            f"grace {first.grace_minutes:g} min{high}"
        )
    # The patient-facing "vitals due" message (ivig.patient.v1) is the patient channel's change: it
    # is sent at each reminder step (step.kind is REMINDER), never instead of the nurse's page.
    return Finding(
        condition=Condition.STALE_DATA,
        severity=severity,
        rule_id=first.row.id,
        title=title,
        action=action_text(template, state, session, step.at, phase, rules),
        evidence=evidence(session, step.at, phase, rules, summary),
        ts=step.at,
        from_vitals=False,
        pending=reminder,
    )


def _trigger(row: ScheduleRow, rules: RuleSet) -> str:
    if row.anchor is SetAnchor.STEADY:
        due = f"every {row.every_minutes:g} min at a steady rate (after the start or a rate increase)"
    else:
        anchor = {
            SetAnchor.START: "the start",
            SetAnchor.RATE_STEP: "each rate increase",
            SetAnchor.STOP: "the stop",
        }[row.anchor]
        due = f"{row.due_minutes:g} min after {anchor}" if row.due_minutes else f"at {anchor}"
    early = f"; a reading from {row.early_minutes:g} min before counts" if row.early_minutes else ""
    tightened = grace_minutes(row, True, rules)
    grace = f"overdue {row.grace_minutes:g} min after" + (
        f" ({tightened:g} for high risk)" if tightened != row.grace_minutes else ""
    )
    only = f"; only for {', '.join(sorted(f.value for f in row.only_for))}" if row.only_for else ""
    return f"set due {due}{early}; {grace}{only}"


def show(rules: RuleSet) -> list[RuleLine]:
    stale = rules.stale_data
    pages = " / ".join(s.value for s in stale.severities)
    severity = f"{stale.reminder_severity.value} reminder, then {pages}"
    return [
        RuleLine(
            row.id,
            Condition.STALE_DATA.value,
            _trigger(row, rules),
            severity,
            "infusing" if row.anchor in INFUSING_ANCHORS else "at or after the stop",
            row.source,
        )
        for row in rules.care_schedule.sets
    ]


register("care_schedule", show_order=70, show=show)
