"""A page as the webhook receives it: the short text a pager shows first, the alert message as on
ivig.alerts.v1, and the idempotency key of the update it is."""

from __future__ import annotations

import json

from models.alerts import Alert, AlertStatus


def page_key(alert: Alert) -> str:
    """The update an alert message is: a page is sent at most once per key. A page to one person
    (an owner's reminder, contract v2) is its own update: whom and when (a second reminder after a
    handover, at the same level, is paged too)."""
    key = f"{alert.alert_id}|{alert.status.value}|{alert.escalation_level}|{alert.severity.value}"
    return key if alert.notify is None else f"{key}|{alert.notify}|{alert.ts.isoformat()}"


def page_text(alert: Alert) -> str:
    """The short text a pager shows first."""
    if alert.status is AlertStatus.ESCALATED:
        what = f"ESCALATED (level {alert.escalation_level}, not acknowledged)"
    elif alert.notify is not None:
        what = f"REMINDER to {alert.notify} (acknowledged, not resolved)"
    else:
        what = "NEW" if alert.escalation_level == 0 else f"RAISED (level {alert.escalation_level})"
    whose = "the alert pipeline itself" if alert.patient_id == "-" else f"patient {alert.patient_id}"
    return (
        f"{alert.severity.value.upper()} {what}: {alert.title} - {whose}, "
        f"alert {alert.alert_id}. Do: {alert.action}"
    )


def page_body(alert: Alert) -> bytes:
    """The webhook's JSON: the alert message as on ivig.alerts.v1, plus the short text."""
    body = {
        "text": page_text(alert),
        "idempotency_key": page_key(alert),
        "alert": alert.model_dump(mode="json"),
    }
    return json.dumps(body).encode()
