"""Replay a recorded JSONL stream through the same rule code the agents run (contract: Replay)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, overload

from agents.rules.engine import advance, new_state, process
from agents.rules.patient_channel import to_patient
from agents.rules.patient_limits import problems
from agents.rules.timers import next_due
from models.alerts import Alert
from models.events import Event, NurseAction
from models.parsing import DEFAULT_MAX_SKEW_MINUTES, InvalidMessage, parse_recorded_line, time_problem
from models.patient_messages import PatientMessage
from models.ruleset import RuleSet
from models.state import PatientState

DEFAULT_MAX_SKEW = timedelta(minutes=DEFAULT_MAX_SKEW_MINUTES)


@dataclass(frozen=True, slots=True)
class LineError:
    line_no: int
    reason: str


@dataclass(slots=True)
class _Patients:
    """Every patient's state, and a heap of (due, first-seen order, patient) so that only patients
    with a timer due are advanced. Entries are invalidated lazily: one counts only while its due
    time is still the patient's scheduled one."""

    rules: RuleSet
    states: dict[str, PatientState] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    scheduled: dict[str, datetime | None] = field(default_factory=dict)
    heap: list[tuple[datetime, int, str]] = field(default_factory=list)
    patient_messages: bool = False

    def with_patient(self, state: PatientState, alerts: list[Alert]) -> list[Alert | PatientMessage]:
        """The alert messages, then (when asked for) the patient messages they cause."""
        if not self.patient_messages:
            return list(alerts)
        return [*alerts, *to_patient(state, alerts, self.rules)]

    def get(self, patient_id: str) -> PatientState:
        state = self.states.get(patient_id)
        if state is None:
            state = self.states[patient_id] = new_state(patient_id)
            self.order[patient_id] = len(self.order)
        return state

    def reschedule(self, patient_id: str) -> None:
        due = next_due(self.states[patient_id], self.rules)
        if due != self.scheduled.get(patient_id):
            self.scheduled[patient_id] = due
            if due is not None:
                heapq.heappush(self.heap, (due, self.order[patient_id], patient_id))

    def advance_due(self, now: datetime) -> list[Alert | PatientMessage]:
        """Timers due by `now`, merged in due-time order; ties in first-seen patient order, as if
        every patient had been advanced (with `patient_messages`, each alert message is followed
        by the patient messages it causes)."""
        due: set[str] = set()
        while self.heap and self.heap[0][0] <= now:
            at, _, patient_id = heapq.heappop(self.heap)
            if self.scheduled.get(patient_id) == at:
                self.scheduled[patient_id] = None
                due.add(patient_id)
        messages: list[Alert | PatientMessage] = []
        for patient_id in sorted(due, key=self.order.__getitem__):
            state = self.states[patient_id]
            messages.extend(self.with_patient(state, advance(state, now, self.rules)))
            self.reschedule(patient_id)
        messages.sort(key=lambda m: m.ts)
        return messages


@dataclass(frozen=True, slots=True)
class Recorded:
    """A valid line: the event or nurse action, and when it was received where the file says so."""

    item: Event | NurseAction
    received: datetime | None


def read_recorded(
    lines: Iterable[str],
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    check: Callable[[Event | NurseAction], list[str]] | None = None,
) -> Iterator[Recorded | LineError]:
    """Each non-blank line validated, or a LineError with its line number and reason. A line timed
    more than `max_skew` ahead of its `received_ts` is refused, as the live worker refuses it; so is
    one that `check` finds problems with (a limit or snooze the rule file does not allow)."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item, received = parse_recorded_line(line)
        except InvalidMessage as exc:
            yield LineError(line_no, str(exc))
            continue
        problem = [] if received is None else time_problem(item.ts, received, max_skew)
        if not problem and check is not None:
            problem = check(item)
        yield LineError(line_no, "; ".join(problem)) if problem else Recorded(item, received)


def read_lines(
    lines: Iterable[str], max_skew: timedelta = DEFAULT_MAX_SKEW
) -> Iterator[Event | NurseAction | LineError]:
    """Each valid line's event or nurse action, or a LineError (see `read_recorded`)."""
    for line in read_recorded(lines, max_skew):
        yield line if isinstance(line, LineError) else line.item


@overload
def replay(
    lines: Iterable[str],
    rules: RuleSet,
    until: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    *,
    patient_messages: Literal[False] = False,
) -> Iterator[Alert | LineError]: ...


@overload
def replay(
    lines: Iterable[str],
    rules: RuleSet,
    until: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    *,
    patient_messages: bool,
) -> Iterator[Alert | PatientMessage | LineError]: ...


def replay(
    lines: Iterable[str],
    rules: RuleSet,
    until: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    *,
    patient_messages: bool = False,
) -> Iterator[Alert | PatientMessage | LineError]:
    """Yield every alert message in order, and a LineError for each line that fails validation;
    with `patient_messages`, each step's alert messages are followed by its patient messages.

    The clock is the latest arrival seen so far (a line's `received_ts`, else its own time; nurse
    actions included), then `until`: as live, a line timed a little ahead of its arrival moves no
    other patient's timers, and one too far ahead is refused.
    """
    patients = _Patients(rules, patient_messages=patient_messages)
    clock: datetime | None = None
    for line in read_recorded(lines, max_skew, check=partial(_setting_problems, rules=rules)):
        if isinstance(line, LineError):
            yield line
            continue
        item = line.item
        arrived = item.ts if line.received is None else line.received
        clock = arrived if clock is None else max(clock, arrived)
        yield from patients.advance_due(clock)
        state = patients.get(item.patient_id)
        yield from patients.with_patient(state, process(state, item, clock, rules))
        patients.reschedule(item.patient_id)
    if until is not None and (clock is None or until > clock):
        yield from patients.advance_due(until)


def _setting_problems(item: Event | NurseAction, rules: RuleSet) -> list[str]:
    """A limit or snooze the rule file does not allow: refused as the live worker refuses it."""
    return problems(item, rules) if isinstance(item, NurseAction) else []
