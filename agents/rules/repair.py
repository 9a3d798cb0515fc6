"""Repair of a stored patient state that a future-dated event poisoned before event times were
bounded by their arrival: a clock far ahead of real time silences every timer of the patient."""

from __future__ import annotations

from datetime import datetime, timedelta

from models import time_column
from models.state import PatientState, SessionState, memory_of


def poisoned(state: PatientState, now: datetime, max_skew: timedelta) -> bool:
    """Whether the state's clock is further ahead of `now` than any accepted event may be."""
    return state.clock is not None and state.clock > now + max_skew


def repair_future(state: PatientState, now: datetime, max_skew: timedelta) -> bool:
    """Bring a poisoned state back to `now`: the clock set to `now`; readings, reports and rate steps
    timed past `now + max_skew` dropped (no accepted event can be); the latest reading times
    recomputed from what remains; every other later time set to `now`. Returns whether the state
    was poisoned."""
    if not poisoned(state, now, max_skew):
        return False
    limit = now + max_skew
    state.clock = now
    state.long_history = {
        name: [v for v in values if v.ts <= limit] for name, values in state.long_history.items()
    }
    for session in state.sessions.values():
        _repair_session(session, now, limit)
    return True


def _clamp(ts: datetime | None, now: datetime, limit: datetime) -> datetime | None:
    return now if ts is not None and ts > limit else ts


def _repair_session(session: SessionState, now: datetime, limit: datetime) -> None:
    session.readings = [r for r in session.readings if r.ts <= limit]
    time_column.drop_after(session.thinned_out, limit)
    memory = memory_of(session)
    memory["_minutes"] = memory["_baseline"] = memory["_columns"] = None  # rebuilt from what remains
    session.symptoms = [s for s in session.symptoms if s.ts <= limit]
    session.rate_steps = [s for s in session.rate_steps if s.ts <= limit]
    latest: dict[str, datetime] = {}
    for reading in session.readings:
        for name in reading.values:
            latest[name] = max(latest.get(name, reading.ts), reading.ts)
    session.latest_ts = {
        name: ts if ts <= limit else latest[name]
        for name, ts in session.latest_ts.items()
        if ts <= limit or name in latest
    }
    if session.last_vitals_ts is not None and session.last_vitals_ts > limit:
        # Back to the last real reading (or none: stale data then counts from the start again).
        session.last_vitals_ts = max((r.ts for r in session.readings), default=None)
    if session.schedule_step_ts is not None and session.schedule_step_ts > limit:
        # the care schedule's steps are taken again from the last real reading
        session.schedule_reading_ts = session.schedule_step_ts = None
    session.first_ts = now if session.first_ts > limit else session.first_ts
    session.start_ts = _clamp(session.start_ts, now, limit)
    session.pump_running_ts = _clamp(session.pump_running_ts, now, limit)
    session.stop_ts = _clamp(session.stop_ts, now, limit)
    session.last_infusion_ts = _clamp(session.last_infusion_ts, now, limit)
    session.row_last_fired = {k: v if v <= limit else now for k, v in session.row_last_fired.items()}
    session.resolved_ts = {k: v if v <= limit else now for k, v in session.resolved_ts.items()}
    session.quiet = {k: q for k, q in session.quiet.items() if q.ts <= limit}  # dropped: it pages again
    for alert in session.alerts.values():
        alert.opened_ts = alert.opened_ts if alert.opened_ts <= limit else now
        alert.next_escalation_due = _clamp(alert.next_escalation_due, now, limit)
        alert.clear_since = _clamp(alert.clear_since, now, limit)
