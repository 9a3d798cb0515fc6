"""Whether a nurse's quiet after a resolution (agents/rules/resolve_quiet.py) is in force for a
reading, and whether a quiet condition still holds: what the composites and the corroboration of
lone readings read, as they read an open alert."""

from __future__ import annotations

from datetime import datetime

from agents.rules.session import started_at
from models.alerts import Condition
from models.ruleset import RuleSet
from models.state import QuietInForce, SessionState


def active(
    quiet: QuietInForce, ts: datetime, stop: datetime | None = None, start: datetime | None = None
) -> bool:
    """Whether `quiet` holds for a reading timed `ts`: within its time, no stop since it (the rules
    end a session's quiets at its stop; the console, which sees only the stop time, asks) and no
    start since it (a quiet from before the infusion ends when the infusion starts)."""
    if not quiet.ts <= ts < quiet.until:
        return False
    return not any(edge is not None and quiet.ts < edge <= ts for edge in (stop, start))


def in_force(session: SessionState, condition: Condition, ts: datetime) -> QuietInForce | None:
    """The quiet of `condition` for a reading timed `ts`, if any."""
    quiet = session.quiet.get(condition.value)
    return quiet if quiet is not None and active(quiet, ts, start=started_at(session)) else None


def holding(session: SessionState, ts: datetime, rules: RuleSet, but: Condition | None = None) -> bool:
    """Whether a quiet condition (other than `but`) still has a row holding at `ts`: it corroborates
    other findings as its open alert would."""
    return any(
        condition != (but.value if but else None)
        and in_force(session, Condition(condition), ts) is not None
        and any(
            session.row_holding.get(row.id, False) for row in rules.rows_by_condition[Condition(condition)]
        )
        for condition in session.quiet
    )
