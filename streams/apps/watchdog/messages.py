"""The words of a `pipeline_stalled` alert: title, evidence and action (pure; no patient data exists here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from streams.apps.watchdog.lag import BacklogView

SYSTEM_ID = "-"
"""patient_id and session_id of a system alert (contract v1)."""
RULE = RuleRef(id="watchdog.pipeline_stalled", version="1")
PHASE = "pipeline"
TITLE = "Alert pipeline stalled: new patient alerts may be missing"
ACTION = (
    "Alerts may be missing: check every patient now infusing or within 72 h of an infusion by phone "
    "until this resolves; restart the rule worker (ivigwatch worker rules) and read its log. "
    "This alert resolves by itself once processing has caught up."
)
RESOLVED_ACTION = (
    "Processing has caught up: alerts held back during the stall have been sent now; review the new "
    "ones first. Note the outage in the on-call log."
)


def alert_id(n: int) -> str:
    return f"{SYSTEM_ID}:{Condition.PIPELINE_STALLED.value}:{n}"


def number_of(alert_id_text: str) -> int | None:
    """n of a `-:pipeline_stalled:n` id, or None when the id is not the watchdog's."""
    prefix = alert_id(0)[:-1]
    tail = alert_id_text.removeprefix(prefix)
    return int(tail) if tail != alert_id_text and tail.isdigit() else None


@dataclass(frozen=True)
class Findings:
    """What the watchdog sees at one sample: the rule group's backlog and the unanswered workers."""

    group: str
    backlog: BacklogView | None  # None: Kafka did not answer this time
    stalled_partitions: tuple[int, ...]
    unanswered: dict[str, float]  # /healthz URL -> seconds without an answer (only those past the limit)

    @property
    def problem(self) -> bool:
        return bool(self.stalled_partitions or self.unanswered)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60} s"


def summary(findings: Findings) -> str:
    """Why: lag figures, for how long, which worker did not answer (ids and counts, never readings)."""
    parts = []
    b = findings.backlog
    if b is not None and findings.stalled_partitions:
        parts.append(
            f"Rule worker group {findings.group}: {b.total_lag:,} events waiting on "
            f"{len(findings.stalled_partitions)} of {len(b.partitions)} partitions of ivig.events.v1, "
            f"the oldest for {_duration(b.oldest_wait)}; in the last {_duration(b.window_seconds)} "
            f"{b.arrived:,} events arrived and {b.consumed:,} were processed."
        )
    for url, seconds in sorted(findings.unanswered.items()):
        parts.append(f"Rule worker {url} has not answered for {_duration(seconds)}.")
    return " ".join(parts) or "The rule worker is not processing events."


def values(findings: Findings) -> dict[str, float]:
    out: dict[str, float] = {}
    b = findings.backlog
    if b is not None:
        out |= {
            "lag_events": float(b.total_lag),
            "oldest_wait_seconds": round(b.oldest_wait, 1),
            "events_arrived": float(b.arrived),
            "events_processed": float(b.consumed),
            "window_seconds": round(b.window_seconds, 1),
            "partitions_stalled": float(len(findings.stalled_partitions)),
        }
    if findings.unanswered:
        out["unanswered_seconds"] = round(max(findings.unanswered.values()), 1)
        out["workers_unanswered"] = float(len(findings.unanswered))
    return out


def message(
    n: int,
    status: AlertStatus,
    ts: datetime,
    evidence: Evidence,
    level: int = 0,
    by: str | None = None,
    note: str | None = None,
) -> Alert:
    return Alert(
        alert_id=alert_id(n),
        patient_id=SYSTEM_ID,
        session_id=SYSTEM_ID,
        status=status,
        severity=Severity.CRITICAL,
        condition=Condition.PIPELINE_STALLED,
        ts=ts,
        escalation_level=level,
        title=TITLE,
        evidence=evidence,
        action=RESOLVED_ACTION if status is AlertStatus.RESOLVED else ACTION,
        rule=RULE,
        by=by,
        note=note,
        page=status in (AlertStatus.FIRING, AlertStatus.ESCALATED),
    )


def stalled_evidence(findings: Findings, ts: datetime) -> Evidence:
    return Evidence(summary=summary(findings), phase=PHASE, values=values(findings), observed_at=ts)


def resolved_evidence(stalled_seconds: float | None, ts: datetime) -> Evidence:
    how_long = "" if stalled_seconds is None else f" after {_duration(stalled_seconds)}"
    return Evidence(
        summary=f"Processing caught up{how_long}: no event waits on the rule worker and it answers.",
        phase=PHASE,
        values={} if stalled_seconds is None else {"stalled_seconds": round(stalled_seconds, 1)},
        observed_at=ts,
    )
