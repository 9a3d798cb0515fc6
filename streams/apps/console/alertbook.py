"""The console's picture of the alerts, folded from the alert messages on `ivig.alerts.v1` (pure).

Each alert message is the new state of one alert; the book keeps the latest message of every open
alert, when it first fired, and who acted on it, plus the most recently resolved alerts. Nothing
here edits an alert's state on its own: only a message from the lifecycle agent moves an alert.
Nurse notes (which change no state, so cause no alert message) are taken from `ivig.actions.v1`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from models.alerts import Alert, AlertStatus
from models.events import NurseAction

RESOLVED_SHOWN = 50
"""How many recently resolved alerts the console shows (newest first)."""
REMEMBERED_CLOSED = 20_000
"""How many resolved alert ids are remembered, so a late duplicate cannot reopen one."""
REMEMBERED_NOTES = 20_000


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class NoteView:
    by: str
    ts: datetime
    note: str

    def to_json(self) -> dict[str, str]:
        return {"by": self.by, "ts": rfc3339(self.ts), "note": self.note}


@dataclass(slots=True)
class AlertEntry:
    """The latest message of one alert and what the console adds to it."""

    alert: Alert
    first_fired: datetime
    acted_by: list[str] = field(default_factory=list)
    notes: list[NoteView] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.alert.status is not AlertStatus.RESOLVED

    def view(self) -> dict[str, Any]:
        """The contract's AlertView: the alert message plus first_fired, acted_by (and notes)."""
        return {
            **self.alert.model_dump(mode="json"),
            "first_fired": rfc3339(self.first_fired),
            "acted_by": list(self.acted_by),
            "notes": [n.to_json() for n in self.notes],
        }


def open_order(entry: AlertEntry) -> tuple[int, datetime, str]:
    """Critical first, then the oldest first (ties by alert id, so the order is stable)."""
    return (-entry.alert.severity.rank, entry.first_fired, entry.alert.alert_id)


class AlertBook:
    """Open alerts by id, the recently resolved ones, and the nurses who acted on each."""

    def __init__(self, resolved_shown: int = RESOLVED_SHOWN) -> None:
        self.resolved_shown = resolved_shown
        self.open: dict[str, AlertEntry] = {}
        self.resolved: dict[str, AlertEntry] = {}
        self.closed: OrderedDict[str, None] = OrderedDict()
        self.pending_notes: OrderedDict[str, list[NoteView]] = OrderedDict()
        """Notes read before their alert's first message (two topics are read side by side)."""

    def apply(self, alert: Alert) -> AlertEntry | None:
        """Fold one alert message in; returns the alert's entry, or None when the message is stale
        (a message for an alert already resolved, other than a duplicate resolution)."""
        alert_id = alert.alert_id
        entry = self.open.get(alert_id) or self.resolved.get(alert_id)
        if alert_id in self.closed and alert.status is not AlertStatus.RESOLVED:
            return None  # alert ids never reopen: the same condition firing again gets a new n
        if entry is None:
            if alert_id in self.closed:
                return None  # a duplicate resolution of an alert already dropped from the list
            entry = AlertEntry(alert=alert, first_fired=alert.ts)
            for note in self.pending_notes.pop(alert_id, []):
                self._add_note(entry, note)
        elif entry.alert.status is AlertStatus.FIRING and alert.status is AlertStatus.FIRING:
            entry.first_fired = min(entry.first_fired, alert.ts)
        entry.alert = alert
        if alert.by and alert.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED):
            _add_name(entry.acted_by, alert.by)
        if alert.status is AlertStatus.RESOLVED:
            self.open.pop(alert_id, None)
            self.resolved[alert_id] = entry
            self.closed[alert_id] = None
            self.closed.move_to_end(alert_id)
            while len(self.closed) > REMEMBERED_CLOSED:
                self.closed.popitem(last=False)
            self._trim_resolved()
        else:
            self.open[alert_id] = entry
        return entry

    def note(self, action: NurseAction) -> AlertEntry | None:
        """A nurse's note (type `note`) on an alert: recorded with who wrote it. Acks and resolutions
        are not taken from actions: they count once the lifecycle agent's message says so."""
        if action.type != "note" or not action.note:
            return None
        note = NoteView(action.by, action.ts, action.note)
        entry = self.open.get(action.alert_id) or self.resolved.get(action.alert_id)
        if entry is None:
            if action.alert_id not in self.closed:
                self.pending_notes.setdefault(action.alert_id, []).append(note)
                self.pending_notes.move_to_end(action.alert_id)
                while len(self.pending_notes) > REMEMBERED_NOTES:
                    self.pending_notes.popitem(last=False)
            return None
        return entry if self._add_note(entry, note) else None

    @staticmethod
    def _add_note(entry: AlertEntry, note: NoteView) -> bool:
        if note in entry.notes:
            return False  # the same action read twice
        entry.notes.append(note)
        _add_name(entry.acted_by, note.by)
        return True

    def _trim_resolved(self) -> None:
        if len(self.resolved) > self.resolved_shown:
            keep = sorted(self.resolved.values(), key=lambda e: e.alert.ts, reverse=True)
            self.resolved = {e.alert.alert_id: e for e in keep[: self.resolved_shown]}

    def get(self, alert_id: str) -> AlertEntry | None:
        return self.open.get(alert_id) or self.resolved.get(alert_id)

    def open_alerts(self) -> list[AlertEntry]:
        """Open alerts (firing, escalated, acknowledged): severity (critical first), then age."""
        return sorted(self.open.values(), key=open_order)

    def recently_resolved(self) -> list[AlertEntry]:
        """Resolved alerts, newest first, at most `resolved_shown`."""
        return sorted(self.resolved.values(), key=lambda e: (e.alert.ts, e.alert.alert_id), reverse=True)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The JSON of GET /api/alerts and of the SSE `snapshot` event."""
        return {
            "open": [e.view() for e in self.open_alerts()],
            "resolved": [e.view() for e in self.recently_resolved()],
        }


def _add_name(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)
