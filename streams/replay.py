"""Replay a recorded JSONL stream through the same rule code the agents run (contract: Replay)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from agents.rules.engine import advance, new_state, process
from models.alerts import Alert
from models.parsing import InvalidMessage, parse_replay_line
from models.ruleset import RuleSet
from models.state import PatientState


@dataclass(frozen=True, slots=True)
class LineError:
    line_no: int
    reason: str


def replay(
    lines: Iterable[str], rules: RuleSet, until: datetime | None = None
) -> Iterator[Alert | LineError]:
    """Yield every alert message in order, and a LineError for each line that fails validation.

    The clock is the latest event time seen so far (nurse actions included), then `until`.
    """
    states: dict[str, PatientState] = {}
    clock: datetime | None = None
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = parse_replay_line(line)
        except InvalidMessage as exc:
            yield LineError(line_no, str(exc))
            continue
        clock = item.ts if clock is None else max(clock, item.ts)
        yield from _advance_all(states, clock, rules)
        state = states.get(item.patient_id)
        if state is None:
            state = states[item.patient_id] = new_state(item.patient_id)
        yield from process(state, item, clock, rules)
    if until is not None and (clock is None or until > clock):
        yield from _advance_all(states, until, rules)


def _advance_all(states: dict[str, PatientState], now: datetime, rules: RuleSet) -> list[Alert]:
    """Timers of every patient due by `now`, merged in due-time order."""
    due: list[Alert] = []
    for state in states.values():
        due.extend(advance(state, now, rules))
    due.sort(key=lambda m: m.ts)
    return due
