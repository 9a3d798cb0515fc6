"""What `ivigwatch roster check` warns about (pure): stretches of the coming days when a slot that
some escalation level reaches has nobody on call, and people the roster names but does not list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agents.roster_resolution import Turn, override_turns, shift_turns
from models.alerts import Severity
from models.roster import Roster, Slot, at_is_aware


@dataclass(frozen=True)
class CoverageGap:
    slot: Slot
    start: datetime  # UTC
    end: datetime  # UTC
    reaches: tuple[tuple[Severity, int], ...]
    """The (severity, escalation level) pages that would find nobody."""


def reached_slots(roster: Roster) -> dict[Slot, tuple[tuple[Severity, int], ...]]:
    """Each slot some escalation level reaches, with the (severity, level) pairs that reach it."""
    found: dict[Slot, list[tuple[Severity, int]]] = {}
    for severity in sorted(roster.escalation, key=lambda s: -s.rank):
        for level, slot in enumerate(roster.escalation[severity]):
            found.setdefault(slot, []).append((severity, level))
    return {slot: tuple(pairs) for slot, pairs in found.items()}


def _holes(turns: list[Turn], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    holes, covered_to = [], start
    for turn in sorted(turns, key=lambda t: t.start):
        if turn.start > covered_to:
            holes.append((covered_to, min(turn.start, end)))
        covered_to = max(covered_to, turn.end)
        if covered_to >= end:
            break
    if covered_to < end:
        holes.append((covered_to, end))
    return [(a, b) for a, b in holes if b > a]


def coverage_gaps(roster: Roster, start: datetime, days: float) -> list[CoverageGap]:
    """Every stretch of [start, start + days) when a reached slot has no known person on call."""
    start = at_is_aware(start).astimezone(UTC)
    end = start + timedelta(days=days)
    known = roster.by_id
    turns = [
        t
        for t in [*shift_turns(roster, start, end), *override_turns(roster)]
        if t.person in known and t.start < end and t.end > start
    ]
    gaps = []
    for slot, reaches in reached_slots(roster).items():
        for a, b in _holes([t for t in turns if t.slot is slot], start, end):
            gaps.append(CoverageGap(slot, a, b, reaches))
    return sorted(gaps, key=lambda g: (g.start, g.slot.value))


def unknown_people(roster: Roster) -> list[tuple[str, str]]:
    """(where, id) of every person a shift, override or swap names who is not in [[people]]."""
    known = roster.by_id
    return [(where, person) for where, person in roster.referenced_people() if person not in known]
