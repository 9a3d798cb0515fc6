"""Episodes of a composite condition: when its rows last fired, and an open alert that belongs to an
earlier episode (for example a biphasic anaphylaxis hours after the first, still acknowledged)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from agents.rules.lifecycle import Finding, close, to_message
from models.alerts import Alert, AlertStatus, Condition
from models.state import AlertState, PatientState, SessionState


def note_fired(session: SessionState, findings: Iterable[Finding]) -> None:
    """Remember when each composite row last fired (a late event does not move it back)."""
    for found in findings:
        last = session.row_last_fired.get(found.rule_id)
        session.row_last_fired[found.rule_id] = found.ts if last is None else max(last, found.ts)


def last_met(session: SessionState, rule_id: str, alert: AlertState) -> datetime:
    """When the open `alert`'s row last fired (its opening, for a state stored before this was kept)."""
    last = session.row_last_fired.get(rule_id)
    return alert.opened_ts if last is None else max(last, alert.opened_ts)


def end_episode(
    state: PatientState, session: SessionState, condition: Condition, last: datetime, ts: datetime
) -> Alert | None:
    """The open alert of `condition` belongs to an earlier episode: resolve it as of `last` (what was
    seen up to then does not raise it again), with its message at `ts`, the new episode's time."""
    current = session.alerts.get(condition.value)
    if current is None:
        return None
    close(session, condition.value, last)
    current.status = AlertStatus.RESOLVED
    return to_message(current, state.patient_id, session.session_id, ts)
