"""What counts as a page: the one definition the cohort measure counts by."""

from __future__ import annotations

from models.alerts import Alert

DEFINITION = "page = the alert message's own `page` flag (contract v2)"


def is_page(alert: Alert) -> bool:
    """Every message that asks a nurse to act, as the console and the pager bridge count it."""
    return alert.page


def definition() -> str:
    """The definition in use, for the printed header."""
    return DEFINITION
