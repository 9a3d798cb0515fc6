"""What the cohort figure and page need of each session: a `CohortRow`, worked out from its record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.alerts import Severity
from models.ruleset import RuleSet
from streams.apps.report.session_data import alert_histories
from streams.apps.report.style import severity_rank, utc_minute
from streams.apps.sessions import SessionRecord

OPERATIONAL = frozenset(
    {
        "stale_data",
        "baseline_missing",
        "high_risk_session",
        "pipeline_stalled",
        "oncall_gap",
        "page_undelivered",
    }
)
"""Conditions about the monitoring itself, not the patient: left out of the cohort's reactions."""


@dataclass(frozen=True, slots=True)
class AlertOnset:
    """One alert of a session: its condition, the highest severity it reached, and when it opened."""

    condition: str
    severity: str
    minutes_after_start: float | None
    minutes_after_rate_increase: float | None
    """Minutes since the last rate increase, for an alert opened while infusing after one."""


@dataclass(frozen=True, slots=True)
class CohortRow:
    session_id: str
    patient_id: str
    product: str | None
    start: datetime | None
    stop: datetime | None
    max_rate: float | None
    rate_increases: int
    symptoms: int
    onsets: tuple[AlertOnset, ...]

    @property
    def duration_hours(self) -> float | None:
        if self.start is None or self.stop is None:
            return None
        return (self.stop - self.start).total_seconds() / 3600

    @property
    def alerts_by_severity(self) -> dict[str, int]:
        counts = Counter(o.severity for o in self.onsets)
        return {s.value: counts.get(s.value, 0) for s in Severity}

    @property
    def worst_reaction(self) -> str | None:
        """The highest severity of an alert about the patient (monitoring alerts left out)."""
        found = [o.severity for o in self.onsets if o.condition not in OPERATIONAL]
        return max(found, key=severity_rank) if found else None


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _rate_increases(record: SessionRecord) -> list[datetime]:
    """When the pump's rate was changed to a higher one."""
    increases: list[datetime] = []
    previous: float | None = None
    for p in record.pump:
        if p.rate_ml_per_h is None or p.action not in ("start", "rate_change"):
            continue
        if p.action == "rate_change" and previous is not None and p.rate_ml_per_h > previous:
            increases.append(p.ts)
        previous = p.rate_ml_per_h
    return increases


def cohort_row(record: SessionRecord) -> CohortRow:
    """What the cohort figure needs of one session."""
    start, stop = record.start, record.stop
    increases = _rate_increases(record)
    onsets: list[AlertOnset] = []
    for history in alert_histories(record):
        if history.first.condition == "incident":
            continue  # an incident is no finding of its own: its members are counted
        ts = history.first.ts
        infusing = start is not None and start <= ts and (stop is None or ts < stop)
        step = max((t for t in increases if t <= ts), default=None) if infusing else None
        onsets.append(
            AlertOnset(
                history.first.condition,
                history.highest.severity,
                _minutes(ts - start) if start is not None else None,
                _minutes(ts - step) if step is not None else None,
            )
        )
    rates = [r for _, r in record.rate_steps()]
    return CohortRow(
        session_id=record.session_id,
        patient_id=record.patient_id,
        product=record.product,
        start=start,
        stop=stop,
        max_rate=max(rates) if rates else None,
        rate_increases=len(increases),
        symptoms=len(record.symptoms),
        onsets=tuple(onsets),
    )


def cohort_title(rows: Sequence[CohortRow], since: datetime, until: datetime | None, rules: RuleSet) -> str:
    counts = Counter(o.severity for r in rows for o in r.onsets)
    by = ", ".join(f"{counts.get(s.value, 0)} {s.value}" for s in reversed(Severity))
    span = f"{utc_minute(since)} to {utc_minute(until)}" if until else f"from {utc_minute(since)}"
    return (
        f"IVIG cohort: {len(rows)} sessions started {span} UTC  ·  {len({r.patient_id for r in rows})} "
        f"patients\nalerts: {by}  ·  rules {rules.ruleset.id} {rules.ruleset.version}"
    )
