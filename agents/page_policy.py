"""Which alert messages page a nurse, and which delivered pages are remembered (pure).

An alert message goes to the pager when it asks a nurse to act (its `page` flag: a new or raised
finding, an escalation) at urgent or critical severity (warnings page in the console only), unless
it is older than MAX_PAGE_AGE or its update was already delivered (to anyone: with a roster, the
delivered keys also name the recipient). The pager bridge's own alerts (`oncall_gap`,
`page_undelivered`) never page: the fallback contact was paged with the page they are about.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from agents.pager_system_alerts import SYSTEM_CONDITIONS
from models.alerts import Alert, Severity
from streams.infra.sinks.pager.page_encoding import page_key

PAGED_SEVERITIES = frozenset({Severity.URGENT, Severity.CRITICAL})
MAX_PAGE_AGE = timedelta(hours=24)
"""An alert message timed longer ago than this is not paged (a first start on a topic with months of
history must not page all of it); its key is also forgotten after this long."""
MAX_KEYS_PER_PATIENT = 1000
"""Bound of a patient's delivered keys (far above what MAX_PAGE_AGE of alerts can hold)."""


class Skip(StrEnum):
    """Why an alert message does not page."""

    BELOW_URGENT = "below_urgent"
    NOT_NEW = "not_new"  # no page: pending, information, an acknowledgement or a resolution
    STALE = "stale"
    ALREADY_PAGED = "already_paged"
    PAGER_OWN = "pager_own"  # the bridge's own alert about a page that went to the fallback


def page_decision(alert: Alert, now: datetime, delivered: Mapping[str, Any]) -> Skip | None:
    """None when this alert message must be paged, else why not."""
    if alert.condition in SYSTEM_CONDITIONS:
        return Skip.PAGER_OWN
    if alert.severity not in PAGED_SEVERITIES:
        return Skip.BELOW_URGENT
    if not alert.page:
        return Skip.NOT_NEW
    if alert.ts < now - MAX_PAGE_AGE:
        return Skip.STALE
    if already_delivered(page_key(alert), delivered):
        return Skip.ALREADY_PAGED
    return None


def already_delivered(key: str, delivered: Mapping[str, Any]) -> bool:
    """The update `key` was delivered: to the one webhook (`key`), or to someone (`key|recipient`)."""
    return key in delivered or any(k.startswith(f"{key}|") for k in delivered)


def prune(delivered: dict[str, str], now: datetime) -> dict[str, str]:
    """Drop keys of alert messages too old to page again, and keep at most MAX_KEYS_PER_PATIENT."""
    cutoff = now - MAX_PAGE_AGE
    kept = {k: ts for k, ts in delivered.items() if datetime.fromisoformat(ts) >= cutoff}
    newest = sorted(kept.items(), key=lambda item: item[1])[-MAX_KEYS_PER_PATIENT:]
    return dict(newest)
