"""What counts as a page: the one definition the cohort measure counts by."""

from __future__ import annotations

from models.alerts import Alert, AlertStatus, Severity

PAGING_STATUSES = frozenset({AlertStatus.FIRING, AlertStatus.ESCALATED})


def has_page_field() -> bool:
    """Whether alert messages say themselves whether they page (issue 14's boolean `page`)."""
    return "page" in Alert.model_fields


def is_page(alert: Alert) -> bool:
    """The message's own `page` flag when the model has one; else today's meaning: a message that
    asks a nurse to act, i.e. status firing or escalated at severity warning or higher."""
    flag = getattr(alert, "page", None)
    if isinstance(flag, bool):
        return flag
    return alert.status in PAGING_STATUSES and alert.severity.rank >= Severity.WARNING.rank


def definition() -> str:
    """The definition in use, for the printed header."""
    if has_page_field():
        return "page = the alert message's own `page` flag"
    return (
        "page = status firing or escalated at severity warning or higher "
        "(the Alert model has no `page` field)"
    )
