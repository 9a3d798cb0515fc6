"""Replay a recorded JSONL stream through the same rule code the agents run (contract: Replay)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from agents.rules.engine import advance, new_state, process
from agents.rules.timers import next_due
from models.alerts import Alert
from models.events import Event, NurseAction
from models.parsing import InvalidMessage, parse_replay_line
from models.ruleset import RuleSet
from models.state import PatientState


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

    def advance_due(self, now: datetime) -> list[Alert]:
        """Timers due by `now`, merged in due-time order; ties in first-seen patient order, as if
        every patient had been advanced."""
        due: set[str] = set()
        while self.heap and self.heap[0][0] <= now:
            at, _, patient_id = heapq.heappop(self.heap)
            if self.scheduled.get(patient_id) == at:
                self.scheduled[patient_id] = None
                due.add(patient_id)
        messages: list[Alert] = []
        for patient_id in sorted(due, key=self.order.__getitem__):
            messages.extend(advance(self.states[patient_id], now, self.rules))
            self.reschedule(patient_id)
        messages.sort(key=lambda m: m.ts)
        return messages


def read_lines(lines: Iterable[str]) -> Iterator[Event | NurseAction | LineError]:
    """Each non-blank line validated, or a LineError with its line number and reason."""
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_replay_line(line)
        except InvalidMessage as exc:
            yield LineError(line_no, str(exc))


def replay(
    lines: Iterable[str], rules: RuleSet, until: datetime | None = None
) -> Iterator[Alert | LineError]:
    """Yield every alert message in order, and a LineError for each line that fails validation.

    The clock is the latest event time seen so far (nurse actions included), then `until`.
    """
    patients = _Patients(rules)
    clock: datetime | None = None
    for item in read_lines(lines):
        if isinstance(item, LineError):
            yield item
            continue
        clock = item.ts if clock is None else max(clock, item.ts)
        yield from patients.advance_due(clock)
        state = patients.get(item.patient_id)
        yield from process(state, item, clock, rules)
        patients.reschedule(item.patient_id)
    if until is not None and (clock is None or until > clock):
        yield from patients.advance_due(until)
