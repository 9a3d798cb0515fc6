"""The pager bridge with a roster: a page goes to the person on call (or the one its `notify` names)
through their own channels; when nobody is on call or every channel of theirs fails for good, to the
roster's fallback contact, and a system alert (`oncall_gap` / `page_undelivered`) goes on the alerts
topic so the console shows it. If even the fallback fails, the page is dead-lettered as before.

Log lines name alert ids and people's ids (console login names) only: no names, no secrets, no
patient values."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.page_routing import Route, fallback_route, route
from agents.pager_system_alerts import OpenSystemAlert, concerns, undelivered_alert
from models.alerts import Alert, AlertStatus, Condition
from models.events import NurseAction
from models.roster import Roster
from streams.infra.sinks.pager.channel_sender import ChannelSender, Reach
from streams.infra.sinks.pager.page_encoding import recipient_key

log = logging.getLogger("ivigwatch.pager")


@dataclass
class Outcome:
    """What one page came to: the delivered-table keys to remember, and the dead-letter reasons
    (empty unless nobody at all could be paged)."""

    remember: dict[str, str] = field(default_factory=dict)
    dead_letter: list[str] = field(default_factory=list)
    fallback: bool = False
    retries: int = 0


@dataclass
class RosterPager:
    roster: Roster
    sender: ChannelSender
    alerts_topic: Any

    async def page(self, alert: Alert, now: datetime) -> Outcome:
        """Deliver one page that must be sent (page_decision said so)."""
        target = route(self.roster, alert, now)
        outcome = Outcome()
        if isinstance(target, Route):
            reach = await self._send(alert, target)
            outcome.retries += reach.retries
            if reach.reached:
                outcome.remember[recipient_key(alert, target.recipient)] = alert.ts.isoformat()
                return outcome
            condition, reason = (
                Condition.PAGE_UNDELIVERED,
                f"the page to {target.recipient.id} failed ({reach.reason})",
            )
        else:
            condition, reason = Condition.ONCALL_GAP, target.reason
            log.warning("no one to page for %s level=%d: %s", alert.alert_id, alert.escalation_level, reason)
        fallback = fallback_route(self.roster, reason)
        reach = await self._send(alert, fallback)
        outcome.retries += reach.retries
        outcome.fallback = True
        if reach.reached:
            outcome.remember[recipient_key(alert, fallback.recipient)] = alert.ts.isoformat()
        else:
            outcome.dead_letter = [
                f"(pager): {reason}; the fallback contact {fallback.recipient.id} could not be paged "
                f"either ({reach.reason}) [page_undelivered]"
            ]
        system = undelivered_alert(alert, condition, reason, fallback.recipient.id, reach.reached)
        await self._send_alert(system)
        outcome.remember[OpenSystemAlert.of(system).key] = alert.ts.isoformat()
        log.error(
            "%s for %s: %s; fallback %s %s",
            condition.value,
            alert.alert_id,
            reason,
            fallback.recipient.id,
            "paged" if reach.reached else "NOT paged",
        )
        return outcome

    async def _send(self, alert: Alert, target: Route) -> Reach:
        reach = await self.sender.send(target.channels, alert, target.recipient)
        if reach.reached:
            log.info(
                "paged %s %s %s level=%d to %s%s via %s",
                alert.alert_id,
                alert.severity.value,
                alert.status.value,
                alert.escalation_level,
                target.recipient.id,
                " (fallback)" if target.recipient.fallback else "",
                ",".join(reach.delivered),
            )
        return reach

    async def close_system_alerts(self, alert: Alert, delivered: dict[str, str]) -> list[str]:
        """An acknowledged or resolved alert resolves the pager's open system alerts about it;
        returns the delivered-table keys to forget."""
        if alert.status not in (AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED):
            return []
        who = f" by {alert.by}" if alert.by else ""
        why = f"Alert {alert.alert_id} was {alert.status.value}{who}."
        found = [
            o for o in map(OpenSystemAlert.parse, delivered) if o and concerns(o.alert_id, alert.alert_id)
        ]
        for system in found:
            await self._send_alert(system.resolved(alert.patient_id, alert.ts, why))
        return [o.key for o in found]

    async def dismiss(self, action: NurseAction, delivered: dict[str, str]) -> list[str]:
        """A nurse acknowledged or resolved one of the pager's open system alerts (console or CLI):
        it is resolved, by that nurse; returns the delivered-table keys to forget."""
        if action.type not in ("ack", "resolve"):
            return []
        found = [o for o in map(OpenSystemAlert.parse, delivered) if o and o.alert_id == action.alert_id]
        why = f"{action.by} took it in hand ({'acknowledged' if action.type == 'ack' else 'resolved'})."
        for system in found:
            await self._send_alert(system.resolved(action.patient_id, action.ts, why, by=action.by))
        return [o.key for o in found]

    async def _send_alert(self, alert: Alert) -> None:
        await self.alerts_topic.send(key=alert.patient_id.encode(), value=alert.model_dump_json().encode())

    async def close(self) -> None:
        await self.sender.close()
