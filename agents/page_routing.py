"""Whom a page goes to with a roster (pure): the person its `notify` names, else the person on call
for its severity and escalation level; or, when that is nobody, the gap that sends it to the fallback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.roster_resolution import Gap, on_call
from models.alerts import Alert
from models.roster import Channel, Roster
from streams.infra.sinks.pager.page_encoding import Recipient


@dataclass(frozen=True)
class Route:
    recipient: Recipient
    channels: tuple[Channel, ...]


def route(roster: Roster, alert: Alert, at: datetime) -> Route | Gap:
    """The person this page is for at `at`, with their channels, or why nobody."""
    if alert.notify is not None:
        person = roster.by_id.get(alert.notify)
        if person is None:
            why = f"the page is for {alert.notify}, who is not in the roster"
            return Gap(alert.severity, alert.escalation_level, None, at, why)
        return Route(Recipient(person.id, person.name), tuple(person.channels))
    found = on_call(roster, alert.severity, alert.escalation_level, at)
    if isinstance(found, Gap):
        return found
    slot = roster.slot_for(alert.severity, alert.escalation_level)
    return Route(Recipient(found.id, found.name, slot.value if slot else None), tuple(found.channels))


def fallback_route(roster: Roster, reason: str) -> Route:
    """The roster's fallback contact, told why the page is theirs."""
    contact = roster.fallback
    return Route(Recipient(contact.id, contact.name, fallback=True, reason=reason), tuple(contact.channels))
