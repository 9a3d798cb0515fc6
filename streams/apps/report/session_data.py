"""What a session's figure and page show, worked out from its `SessionRecord` and the rules in force.

Pure: no drawing here. The figure is drawn by `streams.apps.report.session_figure`, the page by
`streams.apps.report.page`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.rules.session import baseline
from models.alerts import Severity
from models.ruleset import RuleSet
from streams.apps.report.style import PANEL_PX, WIDTH_PX, counted, severity_rank, utc_minute
from streams.apps.sessions import AlertRow, SessionRecord, rule_session


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    unit: str
    vitals: tuple[str, ...]


PANELS: tuple[Panel, ...] = (
    Panel("Heart rate", "beats/min", ("heart_rate",)),
    Panel("Blood pressure", "mmHg", ("systolic_bp", "diastolic_bp")),
    Panel("Temperature", "°C", ("temperature_c",)),
    Panel("SpO2", "%", ("spo2",)),
    Panel("Respiratory rate", "breaths/min", ("respiratory_rate",)),
    Panel("Weight", "kg", ("weight_kg",)),
)
SERIES: dict[str, tuple[str, str]] = {
    "heart_rate": ("heart rate", "#1f77b4"),
    "systolic_bp": ("systolic", "#1f77b4"),
    "diastolic_bp": ("diastolic", "#17becf"),
    "temperature_c": ("temperature", "#1f77b4"),
    "spo2": ("SpO2", "#1f77b4"),
    "respiratory_rate": ("respiratory rate", "#1f77b4"),
    "weight_kg": ("weight", "#1f77b4"),
}
"""Per vital: its name in labels and the colour of its line."""


def panels_for(record: SessionRecord) -> list[Panel]:
    """The panels of the vitals the session recorded, in the figure's order."""
    present = {name for v in record.vitals for name in v.values}
    return [p for p in PANELS if present & set(p.vitals)]


def session_size_px(record: SessionRecord) -> tuple[int, int]:
    """(width, height) of the session figure: one 300 px panel per vital present plus the infusion."""
    return WIDTH_PX, PANEL_PX * (len(panels_for(record)) + 1)


@dataclass(frozen=True, slots=True)
class ThresholdLine:
    """One absolute limit of the rule file's threshold rows for a vital (rows sharing a value merge;
    the line takes the highest severity among them)."""

    vital: str
    value: float
    op: str
    severity: Severity
    conditions: tuple[str, ...]
    rule_ids: tuple[str, ...]

    @property
    def label(self) -> str:
        prefix = f"{SERIES[self.vital][0]} " if self.vital in ("systolic_bp", "diastolic_bp") else ""
        return f"{prefix}{self.op}{self.value:g} {self.severity.value} ({', '.join(self.conditions)})"


def threshold_lines(rules: RuleSet, vital: str) -> list[ThresholdLine]:
    """The absolute limits (at_least, above, at_most, below) of the threshold rows on `vital`."""
    found: dict[float, list[tuple[str, str, Severity, str]]] = {}
    for row in rules.threshold:
        if row.vital != vital:
            continue
        for op, value in (("≥", row.at_least), (">", row.above), ("≤", row.at_most), ("<", row.below)):
            if value is not None:
                found.setdefault(float(value), []).append((op, row.condition.value, row.severity, row.id))
    lines: list[ThresholdLine] = []
    for value in sorted(found):
        rows = found[value]
        top = max(severity.rank for _, _, severity, _ in rows)
        chosen = [r for r in rows if r[2].rank == top]
        lines.append(
            ThresholdLine(
                vital=vital,
                value=value,
                op=chosen[0][0],
                severity=chosen[0][2],
                conditions=tuple(dict.fromkeys(r[1] for r in chosen)),
                rule_ids=tuple(r[3] for r in rows),
            )
        )
    return lines


def session_baseline(record: SessionRecord, rules: RuleSet) -> dict[str, float]:
    """The baseline the rule engine uses (agents.rules.session.baseline), per vital."""
    if record.start is None or not record.vitals:
        return {}
    return dict(baseline(rule_session(record), rules))


@dataclass(frozen=True, slots=True)
class RateSegment:
    start: datetime
    end: datetime
    rate: float
    paused: bool = False


def recorded_times(record: SessionRecord) -> list[datetime]:
    """The times of everything the session recorded: vitals, pump events, symptoms and alerts."""
    return [
        *(v.ts for v in record.vitals),
        *(p.ts for p in record.pump),
        *(s.ts for s in record.symptoms),
        *(a.ts for a in record.alerts),
    ]


def rate_segments(record: SessionRecord, rules: RuleSet) -> list[RateSegment]:
    """The pump's rate over time: a segment per rate (0 while paused), from start to stop.

    A session with no stop runs to its last recorded time, at most `session_timeout_hours` past
    its last pump event (when the rules consider it stopped)."""
    segments: list[RateSegment] = []
    rate: float | None = None
    since: datetime | None = None
    paused = False

    def close(ts: datetime) -> None:
        if since is not None and ts > since:
            segments.append(RateSegment(since, ts, 0.0 if paused or rate is None else rate, paused))

    for p in record.pump:
        if p.action in ("start", "rate_change"):
            close(p.ts)
            rate = p.rate_ml_per_h if p.rate_ml_per_h is not None else rate
            since, paused = p.ts, paused and p.action == "rate_change"
        elif p.action in ("pause", "resume"):
            close(p.ts)
            since, paused = p.ts, p.action == "pause"
        elif p.action == "stop":
            close(p.ts)
            since, paused = None, False
    if since is not None and record.pump:
        timeout = record.pump[-1].ts + timedelta(hours=rules.timing.session_timeout_hours)
        close(min(max(recorded_times(record)), timeout))
    return segments


@dataclass(frozen=True, slots=True)
class AlertMark:
    """One stored alert message; `label` is set where the alert opens or its severity changes."""

    ts: datetime
    alert_id: str
    condition: str
    severity: str
    status: str
    label: str | None


def alert_marks(record: SessionRecord) -> list[AlertMark]:
    last: dict[str, str] = {}
    marks: list[AlertMark] = []
    for a in record.alerts:
        changed = last.get(a.alert_id) != a.severity
        last[a.alert_id] = a.severity
        label = f"{a.condition} ({a.severity})" if changed else None
        marks.append(AlertMark(a.ts, a.alert_id, a.condition, a.severity, a.status, label))
    return marks


@dataclass(frozen=True, slots=True)
class AlertHistory:
    """One alert's stored messages summed up: the first (when it opened), the first at the highest
    severity it reached, and the last."""

    first: AlertRow
    highest: AlertRow
    last: AlertRow


def alert_histories(record: SessionRecord) -> list[AlertHistory]:
    """One history per alert of the session, in the order the alerts opened."""
    first: dict[str, AlertRow] = {}
    highest: dict[str, AlertRow] = {}
    last: dict[str, AlertRow] = {}
    for a in record.alerts:
        first.setdefault(a.alert_id, a)
        top = highest.get(a.alert_id)
        if top is None or severity_rank(a.severity) > severity_rank(top.severity):
            highest[a.alert_id] = a
        last[a.alert_id] = a
    return [AlertHistory(first[alert_id], highest[alert_id], last[alert_id]) for alert_id in first]


def session_title(record: SessionRecord, rules: RuleSet) -> str:
    start, stop = record.start, record.stop
    span = f"{utc_minute(start)} to {utc_minute(stop) if stop else 'no stop recorded'} UTC"
    if start and stop and start.date() == stop.date():
        span = f"{utc_minute(start)} to {stop:%H:%M} UTC"
    risk = record.profile.get("risk_factors") or ""
    extra = f"  ·  risk factors: {risk.replace(',', ', ')}" if risk else ""
    counts = ", ".join(
        counted(n, word)
        for n, word in (
            (len(record.vitals), "reading"),
            (len(record.symptoms), "symptom"),
            (len({a.alert_id for a in record.alerts}), "alert"),
        )
    )
    return (
        f"IVIG session {record.session_id}  ·  {record.product or 'product not recorded'}  ·  "
        f"patient {record.patient_id}\n{span}  ·  {counts}  ·  "
        f"rules {rules.ruleset.id} {rules.ruleset.version}{extra}"
    )
