"""A page as the webhook receives it: the short text a pager shows first, the alert message as on
ivig.alerts.v1, and the idempotency key of the update it is; with a roster, also whom it is for."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from models.alerts import Alert, AlertStatus


@dataclass(frozen=True)
class Recipient:
    """Whom a roster page goes to: a person on call (or named by `notify`), or the fallback contact."""

    id: str  # a console login name, or the fallback's id
    name: str
    slot: str | None = None  # "primary", ...; None: named by the alert's `notify`, or the fallback
    fallback: bool = False
    reason: str | None = None  # the fallback's page: why it is not the person on call's

    def says(self) -> str:
        """Who was notified, in the page's words."""
        if self.fallback:
            return f"Paged: {self.name} ({self.id}), the fallback contact, because {self.reason}."
        why = f"on call as {self.slot}" if self.slot else "named for this page"
        return f"Paged: {self.name} ({self.id}), {why}."


def page_key(alert: Alert) -> str:
    """The update an alert message is: a page is sent at most once per key. A page to one person
    (an owner's reminder, contract v2) is its own update: whom and when (a second reminder after a
    handover, at the same level, is paged too). The nurse's name is percent-encoded: the key is an
    HTTP header."""
    key = f"{alert.alert_id}|{alert.status.value}|{alert.escalation_level}|{alert.severity.value}"
    if alert.notify is not None:
        return f"{key}|{quote(alert.notify, safe='._@-')}|{alert.ts.isoformat()}"
    return key


def recipient_key(alert: Alert, recipient: Recipient) -> str:
    """The update and whom it was delivered to (a roster page): its Idempotency-Key, once per person."""
    return f"{page_key(alert)}|{recipient.id}"


def page_text(alert: Alert, recipient: Recipient | None = None) -> str:
    """The short text a pager shows first."""
    if alert.status is AlertStatus.ESCALATED:
        what = f"ESCALATED (level {alert.escalation_level}, not acknowledged)"
    elif alert.notify is not None:
        what = f"REMINDER to {alert.notify} (acknowledged, not resolved)"
    else:
        what = "NEW" if alert.escalation_level == 0 else f"RAISED (level {alert.escalation_level})"
    whose = "the alert pipeline itself" if alert.patient_id == "-" else f"patient {alert.patient_id}"
    text = (
        f"{alert.severity.value.upper()} {what}: {alert.title} - {whose}, "
        f"alert {alert.alert_id}. Do: {alert.action}"
    )
    if recipient is None:
        return text
    return ("FALLBACK " if recipient.fallback else "") + f"{text} {recipient.says()}"


def page_title(alert: Alert) -> str:
    """A push notification's title: severity and the alert's title."""
    return f"{alert.severity.value.upper()}: {alert.title}"


def page_document(alert: Alert, recipient: Recipient | None = None) -> dict[str, Any]:
    """The webhook's JSON: the alert message as on ivig.alerts.v1, the short text, and (with a
    roster) whom it was sent to."""
    key = page_key(alert) if recipient is None else recipient_key(alert, recipient)
    body: dict[str, Any] = {
        "text": page_text(alert, recipient),
        "idempotency_key": key,
        "alert": alert.model_dump(mode="json"),
    }
    if recipient is not None:
        body["recipient"] = asdict(recipient)
    return body


def page_body(alert: Alert, recipient: Recipient | None = None) -> bytes:
    return json.dumps(page_document(alert, recipient)).encode()
