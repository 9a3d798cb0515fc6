"""The console's picture of the alerts, folded from the alert messages on `ivig.alerts.v1` (pure).

Each alert message is the new state of one alert; the book keeps the latest message of every open
alert, when it first fired, and who acted on it, plus the most recently resolved alerts. Nothing
here edits an alert's state on its own: only a message from the lifecycle agent moves an alert.
Nurse notes (which change no state, so cause no alert message) are taken from `ivig.actions.v1`.

Incidents (contract v2). An incident's own state is an alert message of condition `incident` whose
`alert_id` is the incident id; its members carry that id as `incident_id`. The book keeps both as
alerts (so a nurse action can name either) and folds them into **groups** for the open list: an
open incident with its open members under it, or one alert on its own (messages written before v2,
information, the pipeline's own alerts, and members whose incident has sent no message yet, for
example a lone pending finding). The book also remembers which incidents a nurse has acknowledged,
so that a message that pages (`page: true`) into such an incident, and the incident going back to
firing, are marked **new after the acknowledgement** until the next acknowledgement or resolution:
the nurse must not take a reopened incident for the one already handled. Groups needing a look
(firing or escalated, or holding something new) come first, then by severity, then the oldest.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from models.alerts import Alert, AlertStatus, Condition
from models.events import NurseAction

RESOLVED_SHOWN = 50
"""How many recently resolved alerts the console shows (newest first)."""
REMEMBERED_CLOSED = 20_000
"""How many resolved alert ids are remembered, so a late duplicate cannot reopen one."""
REMEMBERED_NOTES = 20_000
REMEMBERED_ACKNOWLEDGED = 20_000
"""How many acknowledged incident ids are remembered (for the "new after the acknowledgement" mark)."""
NEEDS_LOOK = frozenset({AlertStatus.FIRING, AlertStatus.ESCALATED})


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sortable(ts: datetime) -> str:
    """A UTC time of fixed width, so that two of them compare as strings as they do as times."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    paged_at: datetime | None = None
    """When this alert's latest message with `page: true` came (None: none of its messages paged)."""
    new_after_ack: bool = False
    """A member: it paged after its incident was acknowledged, and nobody has acknowledged it since.
    An incident: it went back to firing (or escalated) after an acknowledgement, not acknowledged since."""

    @property
    def is_open(self) -> bool:
        return self.alert.status is not AlertStatus.RESOLVED

    @property
    def is_incident(self) -> bool:
        """The message is an incident's own state (its alert id is the incident id)."""
        return self.alert.condition is Condition.INCIDENT

    @property
    def incident_id(self) -> str | None:
        """The incident this alert is a member of (None for incidents themselves and alerts of none)."""
        if self.is_incident:
            return None
        return self.alert.incident_id

    @property
    def needs_look(self) -> bool:
        """Firing or escalated (nobody has acknowledged it), or something new since the acknowledgement."""
        return self.alert.status in NEEDS_LOOK or self.new_after_ack

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


def look_order(entry: AlertEntry, needs_look: bool, new: bool) -> str:
    """The order of the console's rows as one string, ascending: what needs a look first (firing,
    escalated, or new after an acknowledgement), then critical first, then what is new after an
    acknowledgement, then the oldest, then by alert id. The same key orders the open list's rows
    (an incident with what its members bring) and the members within their incident."""
    tier = f"{0 if needs_look else 1}{3 - entry.alert.severity.rank}{0 if new else 1}"
    return f"{tier}|{_sortable(entry.first_fired)}|{entry.alert.alert_id}"


def entry_order(entry: AlertEntry) -> str:
    return look_order(entry, entry.needs_look, entry.new_after_ack)


@dataclass(frozen=True, slots=True)
class Group:
    """One row of the open list and what is nested under it: an open incident (`head`) with its open
    members, or one alert on its own (`members` empty)."""

    head: AlertEntry
    members: list[AlertEntry]

    @property
    def key(self) -> str:
        return self.head.alert.alert_id

    @property
    def is_incident(self) -> bool:
        return self.head.is_incident

    @property
    def new(self) -> bool:
        """Something paged into the incident after it was acknowledged (or it went back to firing),
        and nobody has acknowledged it since."""
        return self.head.new_after_ack or any(m.new_after_ack for m in self.members)

    @property
    def needs_look(self) -> bool:
        return self.head.needs_look or self.new

    @property
    def order(self) -> str:
        return look_order(self.head, self.needs_look, self.new)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "incident_id": self.key if self.is_incident else None,
            "head": self.key,
            "members": [m.alert.alert_id for m in self.members],
            "needs_look": self.needs_look,
            "new": self.new,
        }


class AlertBook:
    """Open alerts by id, the recently resolved ones, and the nurses who acted on each."""

    def __init__(self, resolved_shown: int = RESOLVED_SHOWN) -> None:
        self.resolved_shown = resolved_shown
        self.open: dict[str, AlertEntry] = {}
        self.resolved: dict[str, AlertEntry] = {}
        self.closed: OrderedDict[str, None] = OrderedDict()
        self.pending_notes: OrderedDict[str, list[NoteView]] = OrderedDict()
        """Notes read before their alert's first message (two topics are read side by side)."""
        self.members: dict[str, dict[str, None]] = {}
        """Open member alert ids by incident id, in the order they joined."""
        self.acknowledged: OrderedDict[str, None] = OrderedDict()
        """Incidents a nurse has acknowledged (an `acknowledged` message of the incident or of one
        of its members): a later page into one of them is new after the acknowledgement."""

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
        self._unindex(entry)
        entry.alert = alert
        if alert.by and alert.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED):
            _add_name(entry.acted_by, alert.by)
        self._mark(entry, alert)
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
            if entry.incident_id is not None:
                self.members.setdefault(entry.incident_id, {})[alert_id] = None
        return entry

    def _mark(self, entry: AlertEntry, alert: Alert) -> None:
        """When it last paged, and whether it is new after its incident's acknowledgement."""
        if alert.page:
            entry.paged_at = alert.ts
        incident = alert.incident_id
        if alert.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED):
            entry.new_after_ack = False
            if alert.status is AlertStatus.ACKNOWLEDGED and incident:
                self.acknowledged[incident] = None
                self.acknowledged.move_to_end(incident)
                while len(self.acknowledged) > REMEMBERED_ACKNOWLEDGED:
                    self.acknowledged.popitem(last=False)
        elif incident in self.acknowledged and (alert.page or entry.is_incident):
            entry.new_after_ack = True  # a page into an acknowledged incident; the incident reopened

    def _unindex(self, entry: AlertEntry) -> None:
        incident = entry.incident_id
        if incident is not None and incident in self.members:
            self.members[incident].pop(entry.alert.alert_id, None)
            if not self.members[incident]:
                del self.members[incident]

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
        """An alert, or an incident by its id (its own message), open or recently resolved."""
        return self.open.get(alert_id) or self.resolved.get(alert_id)

    def head_of(self, entry: AlertEntry) -> AlertEntry | None:
        """The open incident this alert is a member of, when the incident has sent its message."""
        incident = entry.incident_id
        head = self.open.get(incident) if incident is not None else None
        return head if head is not None and head.is_incident else None

    def members_of(self, head: AlertEntry) -> list[AlertEntry]:
        """An incident's open members, in the open list's order (`look_order`)."""
        ids = self.members.get(head.alert.alert_id, {}) if head.is_incident else {}
        members = [self.open[i] for i in ids if i in self.open]
        return sorted(members, key=entry_order)

    def group_of(self, entry: AlertEntry) -> Group:
        """The group this open alert is shown in (its incident's, or its own)."""
        head = self.head_of(entry) or entry
        return Group(head, self.members_of(head))

    def groups(self) -> list[Group]:
        """The open list: each open incident with its open members, and every other open alert on its
        own; what needs a look first (firing, escalated, new after an acknowledgement), then critical
        first, then the oldest."""
        heads = [e for e in self.open.values() if self.head_of(e) is None]
        groups = [Group(head, self.members_of(head)) for head in heads]
        return sorted(groups, key=lambda g: g.order)

    def changed_with(self, entry: AlertEntry) -> list[AlertEntry]:
        """The entries whose view an alert message for `entry` changed: itself and, for a member,
        its incident (the incident's view lists its members and what is new among them)."""
        head = self.head_of(entry)
        return [entry] if head is None or head is entry else [entry, head]

    def view(self, entry: AlertEntry) -> dict[str, Any]:
        """The console's AlertView of one alert: the contract's AlertView (`AlertEntry.view`) plus
        `paged_at`, `new_after_ack`, `needs_look` and `order`, and for an incident `members` (its open
        members' ids) and `new` (something new in it since the acknowledgement)."""
        view = entry.view()
        view["paged_at"] = rfc3339(entry.paged_at) if entry.paged_at else None
        view["new_after_ack"] = entry.new_after_ack
        if entry.is_incident and entry.is_open:
            group = Group(entry, self.members_of(entry))
            view.update(
                members=[m.alert.alert_id for m in group.members],
                new=group.new,
                needs_look=group.needs_look,
                order=group.order,
            )
        else:
            view.update(needs_look=entry.needs_look, order=entry_order(entry))
        return view

    def open_alerts(self) -> list[AlertEntry]:
        """Open alerts (firing, escalated, acknowledged): severity (critical first), then age."""
        return sorted(self.open.values(), key=open_order)

    def recently_resolved(self) -> list[AlertEntry]:
        """Resolved alerts, newest first, at most `resolved_shown`."""
        return sorted(self.resolved.values(), key=lambda e: (e.alert.ts, e.alert.alert_id), reverse=True)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """The JSON of GET /api/alerts and of the SSE `snapshot` event: every open alert (incidents
        included) and the recently resolved ones as AlertViews, and the open list's `groups`."""
        return {
            "open": [self.view(e) for e in self.open_alerts()],
            "resolved": [self.view(e) for e in self.recently_resolved()],
            "groups": [g.to_json() for g in self.groups()],
        }


def _add_name(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)
