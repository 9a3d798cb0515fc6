"""What the figures and pages share: image sizes, colours, severity order, and how times are written."""

from __future__ import annotations

from datetime import UTC, datetime

from models.alerts import Severity

WIDTH_PX = 1600
PANEL_PX = 300
COHORT_HEIGHT_PX = 1200
DPI = 100

SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.INFO: "#8c8c8c",  # grey
    Severity.WARNING: "#e6b000",  # amber
    Severity.URGENT: "#ff7f0e",  # orange
    Severity.CRITICAL: "#d62728",  # red
}
UNKNOWN_COLOUR = "#000000"
NO_ALERT_COLOUR = "#2ca02c"
RATE_COLOUR = "#4c78a8"
SYMPTOM_COLOUR = "#7b3294"
START_COLOUR = "#2ca02c"
STOP_COLOUR = "#333333"
PAUSED_COLOUR = "#bbbbbb"
MUTED_TEXT_COLOUR = "#555555"


def severity_colour(severity: str) -> str:
    """Alert colour: info grey, warning amber, urgent orange, critical red (black if unknown)."""
    try:
        return SEVERITY_COLOURS[Severity(severity)]
    except ValueError:
        return UNKNOWN_COLOUR


def severity_rank(severity: str) -> int:
    """0 info ... 3 critical; -1 for an unknown word."""
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def utc_minute(ts: datetime | None) -> str:
    """`2026-03-02 09:00` (UTC), or `-` for no time."""
    return "-" if ts is None else f"{ts.astimezone(UTC):%Y-%m-%d %H:%M}"


def counted(n: int, word: str) -> str:
    """`1 alert`, `2 alerts`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
