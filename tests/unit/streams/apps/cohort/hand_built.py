"""Hand-built alert messages and session outcomes for the counting tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from streams.apps.cohort.run import Emitted, SessionOutcome
from streams.apps.cohort.serious_events import Kind

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def message(
    condition: str,
    severity: str = "urgent",
    status: str = "firing",
    minutes: float = 0.0,
    level: int = 0,
    n: int = 1,
    page: bool | None = None,
) -> Emitted:
    """An alert message; it pages (unless `page` says) as the engine's messages do: firing or
    escalated at warning or higher."""
    if page is None:
        page = status in ("firing", "escalated") and Severity(severity).rank >= Severity.WARNING.rank
    alert = Alert(
        page=page,
        alert_id=f"co-1-s1:{condition}:{n}",
        patient_id="co-1",
        session_id="co-1-s1",
        status=AlertStatus(status),
        severity=Severity(severity),
        condition=Condition(condition),
        ts=at(minutes),
        escalation_level=level,
        title=condition,
        evidence=Evidence(summary=condition, phase="infusing"),
        action="act",
        rule=RuleRef(id=f"{condition}.row", version="1.1.0"),
    )
    return Emitted(alert, at(minutes))


def outcome(
    emitted: list[Emitted],
    kind: Kind | None = None,
    onset: float | None = None,
    evidence: float | None = None,
    hours: float = 2.0,
) -> SessionOutcome:
    return SessionOutcome(
        index=0,
        session_id="co-1-s1",
        start=START,
        stop=at(hours * 60),
        infusion_hours=hours,
        kind=kind,
        detail="",
        onset=None if onset is None else at(onset),
        evidence=None if evidence is None else at(evidence),
        emitted=tuple(emitted),
        repeated_at=(),
        acks=0,
        headache=False,
    )
