"""Who is on call (pure): the person a roster puts in the slot that a severity's escalation level
reaches at a moment, or the gap. Overrides beat shifts (the last override in the file wins), a swap
exchanges two people's shifts that begin on its date, and every shift is read in its own time zone
(DST included: a 20:00-08:00 night is 13 h long on the night clocks go back)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from models.alerts import Severity
from models.roster import Person, Roster, Shift, Slot, at_is_aware


@dataclass(frozen=True)
class Gap:
    """Nobody can be paged: why (no pseudonymous patient data, only the roster's words)."""

    severity: Severity
    level: int
    slot: Slot | None
    at: datetime
    reason: str


@dataclass(frozen=True)
class Turn:
    """One stretch of a slot held by one person: a shift's occurrence (after swaps) or an override."""

    slot: Slot
    person: str
    start: datetime  # UTC
    end: datetime  # UTC
    source: str  # "shifts[2]" / "overrides[0]"


def shift_zone(roster: Roster, shift: Shift) -> ZoneInfo:
    return ZoneInfo(shift.time_zone or roster.roster.time_zone)


def _holder(roster: Roster, shift: Shift, day: date) -> str:
    """Who holds an occurrence of `shift` that begins on local date `day`, after the swaps."""
    person = shift.person
    for swap in roster.swaps:
        if swap.date != day or (swap.slot is not None and swap.slot is not shift.slot):
            continue
        if person == swap.person:
            person = swap.with_
        elif person == swap.with_:
            person = swap.person
    return person


def shift_turns(roster: Roster, start: datetime, end: datetime) -> Iterator[Turn]:
    """Every shift occurrence that overlaps [start, end), in file order, then by date."""
    start, end = at_is_aware(start).astimezone(UTC), at_is_aware(end).astimezone(UTC)
    for index, shift in enumerate(roster.shifts):
        zone = shift_zone(roster, shift)
        day, last = start.astimezone(zone).date() - timedelta(days=1), end.astimezone(zone).date()
        weekdays = {d.number for d in shift.days}
        while day <= last:
            if day.weekday() in weekdays:
                begins = datetime.combine(day, shift.start, tzinfo=zone).astimezone(UTC)
                end_day = day + timedelta(days=1) if shift.end <= shift.start else day
                ends = datetime.combine(end_day, shift.end, tzinfo=zone).astimezone(UTC)
                if begins < end and ends > start:
                    yield Turn(shift.slot, _holder(roster, shift, day), begins, ends, f"shifts[{index}]")
            day += timedelta(days=1)


def override_turns(roster: Roster) -> list[Turn]:
    return [
        Turn(o.slot, o.person, o.start.astimezone(UTC), o.end.astimezone(UTC), f"overrides[{i}]")
        for i, o in enumerate(roster.overrides)
    ]


def holder(roster: Roster, slot: Slot, at: datetime) -> Turn | None:
    """The turn that puts someone in `slot` at `at`: the last override covering it, else the first
    shift occurrence (file order) covering it, else None."""
    at = at_is_aware(at).astimezone(UTC)
    for turn in reversed(override_turns(roster)):
        if turn.slot is slot and turn.start <= at < turn.end:
            return turn
    moment = at + timedelta(microseconds=1)
    return next((t for t in shift_turns(roster, at, moment) if t.slot is slot and t.start <= at), None)


def on_call(roster: Roster, severity: Severity, level: int, at: datetime) -> Person | Gap:
    """The person a page of `severity` at escalation `level` reaches at `at`, or why nobody."""
    slot = roster.slot_for(severity, level)
    if slot is None:
        return Gap(severity, level, None, at, f"the roster maps no slot for {severity.value} alerts")
    turn = holder(roster, slot, at)
    if turn is None:
        return Gap(severity, level, slot, at, f"nobody is on call as {slot.value} (a gap in the roster)")
    person = roster.by_id.get(turn.person)
    if person is None:
        return Gap(severity, level, slot, at, f"{turn.source} names {turn.person}, who is not in the roster")
    return person
