"""Session and cohort reports: PNG figures and self-contained HTML pages, for analysts.

Pure functions of plain data: a `SessionRecord` (see `streams.sessions`) and the `RuleSet` in force.
Nothing here reads InfluxDB, files or the clock; figures are drawn on matplotlib's Agg canvas (no
display, no pyplot state) into memory. The image size is fixed: 1600 px wide and 300 px per panel
for a session (one panel per vital present, plus the infusion panel), 1600 x 1200 px for a cohort.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from agents.rules.session import baseline
from models.alerts import Severity
from models.ruleset import RuleSet
from streams.sessions import AlertRow, SessionRecord, rule_session

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

OPERATIONAL = frozenset({"stale_data", "baseline_missing", "high_risk_session", "pipeline_stalled"})
"""Conditions about the monitoring itself, not the patient: left out of the cohort's reactions."""


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
STATUS_MARKERS = {"firing": "o", "escalated": "^", "acknowledged": "s", "resolved": "o"}


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


# --- pure parts -----------------------------------------------------------------------------


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


def panels_for(record: SessionRecord) -> list[Panel]:
    present = {name for v in record.vitals for name in v.values}
    return [p for p in PANELS if present & set(p.vitals)]


def session_size_px(record: SessionRecord) -> tuple[int, int]:
    """(width, height) of the session figure: one 300 px panel per vital present plus the infusion."""
    return WIDTH_PX, PANEL_PX * (len(panels_for(record)) + 1)


@dataclass(frozen=True, slots=True)
class RateSegment:
    start: datetime
    end: datetime
    rate: float
    paused: bool = False


def _times(record: SessionRecord) -> list[datetime]:
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
        close(min(max(_times(record)), timeout))
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


# --- session figure -------------------------------------------------------------------------


def _x(ts: datetime) -> float:
    return float(mdates.date2num(ts))  # type: ignore[no-untyped-call]  # matplotlib leaves it untyped


def _render(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _new_figure(height_px: int) -> Figure:
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _when(ts: datetime | None) -> str:
    return "-" if ts is None else f"{ts.astimezone(UTC):%Y-%m-%d %H:%M}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def session_title(record: SessionRecord, rules: RuleSet) -> str:
    start, stop = record.start, record.stop
    span = f"{_when(start)} to {_when(stop) if stop else 'no stop recorded'} UTC"
    if start and stop and start.date() == stop.date():
        span = f"{_when(start)} to {stop:%H:%M} UTC"
    risk = record.profile.get("risk_factors") or ""
    extra = f"  ·  risk factors: {risk.replace(',', ', ')}" if risk else ""
    counts = ", ".join(
        _count(n, word)
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


def _shade_infusion(ax: Axes, segments: Sequence[RateSegment], record: SessionRecord) -> None:
    top = max((s.rate for s in segments), default=0.0) or 1.0
    for s in segments:
        if s.paused:
            ax.axvspan(_x(s.start), _x(s.end), color="#bbbbbb", alpha=0.25, hatch="//", lw=0)
        else:
            ax.axvspan(_x(s.start), _x(s.end), color=RATE_COLOUR, alpha=0.04 + 0.14 * s.rate / top, lw=0)
    for ts, colour in ((record.start, "#2ca02c"), (record.stop, "#333333")):
        if ts is not None:
            ax.axvline(_x(ts), color=colour, lw=1.2, ls="-", alpha=0.8)


def _vital_panel(
    ax: Axes,
    panel: Panel,
    record: SessionRecord,
    rules: RuleSet,
    base: dict[str, float],
    segments: Sequence[RateSegment],
    marks: Sequence[AlertMark],
) -> None:
    _shade_infusion(ax, segments, record)
    for m in marks:
        if m.label:
            ax.axvline(_x(m.ts), color=severity_colour(m.severity), lw=0.9, alpha=0.6, ls="-")
    levels: list[float] = []
    right = blended_transform_factory(ax.transAxes, ax.transData)
    for vital in panel.vitals:
        points = [(v.ts, v.values[vital]) for v in record.vitals if vital in v.values]
        if not points:
            continue
        name, colour = SERIES[vital]
        ax.plot(
            [_x(t) for t, _ in points],
            [y for _, y in points],
            "o-",
            ms=3.5,
            lw=1.3,
            color=colour,
            label=name,
            zorder=3,
        )
        levels.extend(y for _, y in points)
        if vital in base:
            ax.axhline(base[vital], color=colour, ls=":", lw=1.4, zorder=2)
            ax.text(
                0.002,
                base[vital],
                f"baseline {name} {base[vital]:g}",
                transform=right,
                fontsize=8,
                color=colour,
                ha="left",
                va="bottom",
            )
            levels.append(base[vital])
        for line in threshold_lines(rules, vital):
            colour = severity_colour(line.severity)
            ax.axhline(line.value, color=colour, ls="--", lw=1.2, zorder=1)
            ax.text(
                0.998,
                line.value,
                line.label,
                transform=right,
                fontsize=8,
                color=colour,
                ha="right",
                va="bottom",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 0.5},
            )
            levels.append(line.value)
    low, high = min(levels), max(levels)
    pad = max((high - low) * 0.08, 0.5)
    ax.set_ylim(low - pad, high + pad * 1.6)
    ax.set_ylabel(f"{panel.title}\n({panel.unit})")
    ax.grid(True, axis="y", alpha=0.3)
    if len(panel.vitals) > 1:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.8)


LABEL_ROWS = (0.62, 0.69, 0.76, 0.83, 0.90, 0.97)
"""Rows (axes fraction) of the infusion panel where symptom and alert labels go."""
SYMPTOM_LANE = 0.52
ALERT_LANES = (0.12, 0.22, 0.32, 0.42)
"""Marker heights of info, warning, urgent and critical alerts (axes fraction)."""
CHAR_PX = 5.2
"""About how wide a character of the 8-point label font is, in pixels."""


def pack_labels(starts: Sequence[float], widths: Sequence[float], rows: int) -> list[int]:
    """A row for each label (given left to right by `starts`, in axes fractions) so that labels on
    the same row do not overlap; when no row is free, the row that frees up first."""
    ends = [float("-inf")] * rows
    out: list[int] = []
    for start, width in zip(starts, widths, strict=True):
        free = [r for r in range(rows) if ends[r] <= start]
        row = free[0] if free else min(range(rows), key=lambda r: ends[r])
        ends[row] = start + width
        out.append(row)
    return out


def _infusion_panel(
    ax: Axes,
    record: SessionRecord,
    segments: Sequence[RateSegment],
    marks: Sequence[AlertMark],
    xlim: tuple[float, float],
) -> None:
    top = max((s.rate for s in segments), default=0.0)
    for s in segments:
        x0, x1 = _x(s.start), _x(s.end)
        if s.paused:
            ax.axvspan(x0, x1, color="#bbbbbb", alpha=0.35, hatch="//", lw=0)
            ax.text(x0, 0.02, " paused", transform=ax.get_xaxis_transform(), fontsize=8, color="#555555")
            continue
        ax.fill_between([x0, x1], [s.rate, s.rate], color=RATE_COLOUR, alpha=0.3, lw=0)
        ax.hlines(s.rate, x0, x1, color=RATE_COLOUR, lw=2)
        ax.text(x0, s.rate, f" {s.rate:g}", fontsize=8, color=RATE_COLOUR, va="bottom")
    ax.set_ylim(0, (top or 1.0) * 2.0)  # the rate fills the lower half; markers and labels above
    ax.set_ylabel("Infusion rate\n(mL/h)")
    lane = blended_transform_factory(ax.transData, ax.transAxes)
    for ts, text, colour in ((record.start, "start", "#2ca02c"), (record.stop, "stop", "#333333")):
        if ts is not None:
            ax.axvline(_x(ts), color=colour, lw=1.5)
            ax.text(_x(ts), 0.02, f" {text}", transform=lane, color=colour, fontsize=9, va="bottom")
    labels: list[tuple[float, float, str, str]] = []  # x, marker height, text, colour
    for symptom in record.symptoms:
        x = _x(symptom.ts)
        ax.plot([x], [SYMPTOM_LANE], marker="v", ms=9, color=SYMPTOM_COLOUR, transform=lane, zorder=4, ls="")
        labels.append((x, SYMPTOM_LANE, f"{symptom.symptom} ({symptom.severity})", SYMPTOM_COLOUR))
    for m in marks:
        y = ALERT_LANES[max(severity_rank(m.severity), 0)]
        colour = severity_colour(m.severity)
        hollow = m.status in ("acknowledged", "resolved")
        ax.plot(
            [_x(m.ts)],
            [y],
            marker=STATUS_MARKERS.get(m.status, "o"),
            ms=8,
            ls="",
            transform=lane,
            markerfacecolor="white" if hollow else colour,
            markeredgecolor=colour,
            mew=1.6,
            zorder=5,
        )
        if m.label:
            labels.append((_x(m.ts), y, m.label, colour))
    labels.sort(key=lambda item: item[0])
    span = xlim[1] - xlim[0]
    axes_px = WIDTH_PX * 0.88
    starts = [(x - xlim[0]) / span for x, _, _, _ in labels]
    rows = pack_labels(
        starts, [(len(text) + 2) * CHAR_PX / axes_px for _, _, text, _ in labels], len(LABEL_ROWS)
    )
    for (x, y, text, colour), row in zip(labels, rows, strict=True):
        ax.annotate(
            text,
            xy=(x, y),
            xycoords=lane,
            xytext=(x, LABEL_ROWS[row]),
            textcoords=lane,
            fontsize=8,
            color=colour,
            fontweight="bold",
            va="center",
            ha="left",
            bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 0.3},
            arrowprops={"arrowstyle": "-", "color": colour, "lw": 0.7, "alpha": 0.7, "shrinkA": 0},
            zorder=6,
        )
    handles = [
        Patch(color=RATE_COLOUR, alpha=0.4, label="rate (mL/h)"),
        Line2D([], [], marker="v", ls="", color=SYMPTOM_COLOUR, label="symptom"),
        *(Line2D([], [], marker="o", ls="", color=c, label=s.value) for s, c in SEVERITY_COLOURS.items()),
        Line2D([], [], marker="^", ls="", color="#555555", label="escalated"),
        Line2D([], [], marker="o", ls="", color="#555555", markerfacecolor="white", label="ack/resolved"),
    ]
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize=8,
        ncol=len(handles),
        frameon=False,
        borderaxespad=0.1,
    )
    ax.set_xlabel("time (UTC)")


def session_png(record: SessionRecord, rules: RuleSet) -> bytes:
    """The session figure as PNG bytes (1600 x 300 per panel px)."""
    panels = panels_for(record)
    _, height = session_size_px(record)
    fig = _new_figure(height)
    fig.suptitle(session_title(record, rules), fontsize=12)
    grid = fig.add_gridspec(len(panels) + 1, 1)
    first = fig.add_subplot(grid[0, 0])
    axes = [first, *(fig.add_subplot(grid[i, 0], sharex=first) for i in range(1, len(panels) + 1))]
    segments = rate_segments(record, rules)
    marks = alert_marks(record)
    base = session_baseline(record, rules)
    for ax, panel in zip(axes, panels, strict=False):
        _vital_panel(ax, panel, record, rules, base, segments, marks)
        ax.tick_params(labelbottom=False)
    times = _times(record)
    lo, hi = min(times), max(times)
    pad = max((hi - lo) * 0.02, timedelta(minutes=10))
    xlim = (_x(lo - pad), _x(hi + pad))
    _infusion_panel(axes[-1], record, segments, marks, xlim)
    first.set_xlim(*xlim)
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(formatter)
    return _render(fig)


# --- HTML -----------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "img{max-width:100%;border:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:.9em;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}th{background:#f3f3f3}"
    ".sev{font-weight:bold;padding:0 .4em;border-radius:3px;color:#fff}"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _sev(severity: str) -> str:
    return f'<span class="sev" style="background:{severity_colour(severity)}">{_e(severity)}</span>'


def _page(title: str, intro: str, png: bytes, alt: str, sections: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n{intro}\n"
        f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">\n{sections}\n</body>\n</html>\n'
    )


def session_html(record: SessionRecord, rules: RuleSet, png: bytes) -> str:
    """A self-contained page: the figure inline (base64), the alerts and the symptoms as tables."""
    base = session_baseline(record, rules)
    intro = "<p>" + "<br>".join(_e(line) for line in session_title(record, rules).splitlines()) + "</p>"
    described = ", ".join(f"{SERIES[k][0]} {v:g}" for k, v in base.items()) or "none"
    intro += f"<p>Baseline (the rule engine's): {_e(described)}</p>"
    opened: dict[str, datetime] = {}
    highest: dict[str, AlertRow] = {}
    last_status: dict[str, str] = {}
    for a in record.alerts:
        opened.setdefault(a.alert_id, a.ts)
        row = highest.get(a.alert_id)
        if row is None or severity_rank(a.severity) > severity_rank(row.severity):
            highest[a.alert_id] = a
        last_status[a.alert_id] = a.status
    alerts = _table(
        ["opened", "alert", "condition", "highest severity", "rule", "title", "last status"],
        (
            [
                _when(opened[a.alert_id]),
                _e(a.alert_id),
                _e(a.condition),
                _sev(a.severity),
                _e(a.rule_id),
                _e(a.title),
                _e(last_status[a.alert_id]),
            ]
            for a in highest.values()
        ),
    )
    symptoms = _table(
        ["time", "symptom", "severity", "score"],
        ([_when(s.ts), _e(s.symptom), _e(s.severity), _e(s.score)] for s in record.symptoms),
    )
    return _page(
        f"Session {record.session_id}",
        intro,
        png,
        f"vitals, thresholds, infusion rate, symptoms and alerts of session {record.session_id}",
        f"<h2>Alerts</h2>\n{alerts}\n<h2>Symptoms</h2>\n{symptoms}",
    )


# --- cohort ---------------------------------------------------------------------------------


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


def cohort_row(record: SessionRecord) -> CohortRow:
    """What the cohort figure needs of one session."""
    start, stop = record.start, record.stop
    increases: list[datetime] = []
    previous: float | None = None
    for p in record.pump:
        if p.rate_ml_per_h is None or p.action not in ("start", "rate_change"):
            continue
        if p.action == "rate_change" and previous is not None and p.rate_ml_per_h > previous:
            increases.append(p.ts)
        previous = p.rate_ml_per_h
    opened: dict[str, tuple[datetime, str, str]] = {}
    for a in record.alerts:
        ts, condition, severity = opened.get(a.alert_id, (a.ts, a.condition, a.severity))
        opened[a.alert_id] = (ts, condition, max(severity, a.severity, key=severity_rank))
    onsets: list[AlertOnset] = []
    for ts, condition, severity in opened.values():
        infusing = start is not None and start <= ts and (stop is None or ts < stop)
        step = max((t for t in increases if t <= ts), default=None) if infusing else None
        onsets.append(
            AlertOnset(
                condition,
                severity,
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
    span = f"{_when(since)} to {_when(until)}" if until else f"from {_when(since)}"
    return (
        f"IVIG cohort: {len(rows)} sessions started {span} UTC  ·  {len({r.patient_id for r in rows})} "
        f"patients\nalerts: {by}  ·  rules {rules.ruleset.id} {rules.ruleset.version}"
    )


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


def _conditions_panel(ax: Axes, rows: Sequence[CohortRow]) -> None:
    counts = Counter((o.condition, o.severity) for r in rows for o in r.onsets)
    totals = Counter[str]()
    for (condition, _), n in counts.items():
        totals[condition] += n
    conditions = sorted(totals, key=lambda c: (totals[c], c))
    left = [0] * len(conditions)
    for severity, colour in SEVERITY_COLOURS.items():
        widths = [counts.get((c, severity.value), 0) for c in conditions]
        ax.barh(conditions, widths, left=left, color=colour, label=severity.value)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_title("Alerts per condition (by the highest severity each reached)", fontsize=11)
    ax.set_xlabel("alerts")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if conditions:
        ax.legend(fontsize=8, loc="lower right")
    else:
        _no_data(ax, "no alerts")


def _spread(i: int) -> float:
    """A small, deterministic vertical offset so sessions with the same values do not hide each other."""
    return ((i * 7) % 11 - 5) * 0.04


def _scatter_panel(ax: Axes, rows: Sequence[CohortRow]) -> None:
    for i, r in enumerate(rows):
        if r.max_rate is None:
            continue
        worst = r.worst_reaction
        y = (severity_rank(worst) if worst else -1) + _spread(i)
        size = 25 + 25 * (r.duration_hours or 0)
        colour = severity_colour(worst) if worst else NO_ALERT_COLOUR
        ax.scatter([r.max_rate], [y], s=size, color=colour, alpha=0.75, edgecolors="black", linewidths=0.4)
    ax.set_yticks(range(-1, 4), ["none", *(s.value for s in Severity)])
    ax.set_ylim(-1.6, 3.6)
    ax.set_xlabel("maximum infusion rate (mL/h)")
    ax.set_title("Maximum rate vs worst reaction alert (size: infusion hours)", fontsize=11)
    ax.grid(True, alpha=0.3)


def _onset_panel(ax: Axes, rows: Sequence[CohortRow], rules: RuleSet) -> None:
    window = rules.timing.rate_step_window_minutes
    limit = max(120.0, window * 4)
    groups: list[list[float]] = []
    colours: list[str] = []
    labels: list[str] = []
    without = 0
    for severity, colour in SEVERITY_COLOURS.items():
        values = []
        for r in rows:
            for o in r.onsets:
                if o.severity != severity.value or o.condition in OPERATIONAL:
                    continue
                if o.minutes_after_rate_increase is None:
                    without += 1
                else:
                    values.append(min(o.minutes_after_rate_increase, limit))
        if values:
            groups.append(values)
            colours.append(colour)
            labels.append(severity.value)
    bins = [limit * k / 16 for k in range(17)]
    if groups:
        ax.hist(groups, bins=bins, stacked=True, color=colours, label=labels)
        ax.legend(fontsize=8, loc="upper right")
    else:
        _no_data(ax, "no reaction alert opened after a rate increase")
    ax.axvline(window, color="#333333", ls="--", lw=1.2)
    ax.text(
        window,
        0.97,
        f" rate-step window {window:g} min",
        transform=ax.get_xaxis_transform(),
        fontsize=8,
        va="top",
    )
    ax.set_xlim(0, limit)
    ax.set_xlabel(f"minutes from the last rate increase to the alert (later ones counted at {limit:g})")
    ax.set_ylabel("alerts")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(
        f"Reaction alerts opened while infusing, after a rate increase ({without} others not shown)",
        fontsize=11,
    )


SESSIONS_SHOWN = 30


def _sessions_panel(ax: Axes, rows: Sequence[CohortRow]) -> None:
    ranked = sorted(
        rows,
        key=lambda r: (severity_rank(r.worst_reaction or ""), len(r.onsets), r.session_id),
        reverse=True,
    )[:SESSIONS_SHOWN]
    ranked.reverse()  # barh draws bottom-up: the most serious session on top
    names = [
        f"{r.session_id} · {r.product or '?'} · "
        f"{'-' if r.duration_hours is None else f'{r.duration_hours:.1f} h'} · "
        f"max {'-' if r.max_rate is None else f'{r.max_rate:g}'}"
        for r in ranked
    ]
    left = [0] * len(ranked)
    for severity, colour in SEVERITY_COLOURS.items():
        widths = [r.alerts_by_severity[severity.value] for r in ranked]
        ax.barh(range(len(ranked)), widths, left=left, color=colour, label=severity.value)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(range(len(ranked)), names, fontsize=7 if len(ranked) > 15 else 8)
    hidden = len(rows) - len(ranked)
    more = f" ({hidden} more in the HTML table)" if hidden > 0 else ""
    ax.set_title(f"Alerts per session, most serious first{more}", fontsize=11)
    ax.set_xlabel("alerts (by highest severity)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def cohort_size_px() -> tuple[int, int]:
    return WIDTH_PX, COHORT_HEIGHT_PX


def cohort_png(rows: Sequence[CohortRow], rules: RuleSet, since: datetime, until: datetime | None) -> bytes:
    """The cohort figure as PNG bytes (1600 x 1200 px): alerts per condition, maximum rate against
    the worst reaction, alert onset after rate increases, and alerts per session."""
    fig = _new_figure(COHORT_HEIGHT_PX)
    fig.suptitle(cohort_title(rows, since, until, rules), fontsize=12)
    grid = fig.add_gridspec(2, 2)
    _conditions_panel(fig.add_subplot(grid[0, 0]), rows)
    _scatter_panel(fig.add_subplot(grid[0, 1]), rows)
    _onset_panel(fig.add_subplot(grid[1, 0]), rows, rules)
    _sessions_panel(fig.add_subplot(grid[1, 1]), rows)
    return _render(fig)


def cohort_html(
    rows: Sequence[CohortRow], rules: RuleSet, since: datetime, until: datetime | None, png: bytes
) -> str:
    """A self-contained page: the cohort figure inline and one table row per session."""
    title = cohort_title(rows, since, until, rules)
    intro = "<p>" + "<br>".join(_e(line) for line in title.splitlines()) + "</p>"
    table = _table(
        [
            "session",
            "patient",
            "product",
            "start (UTC)",
            "hours",
            "max mL/h",
            "rate increases",
            "symptoms",
            *(s.value for s in reversed(Severity)),
            "conditions",
        ],
        (
            [
                _e(r.session_id),
                _e(r.patient_id),
                _e(r.product),
                _when(r.start),
                "-" if r.duration_hours is None else f"{r.duration_hours:.1f}",
                "-" if r.max_rate is None else f"{r.max_rate:g}",
                str(r.rate_increases),
                str(r.symptoms),
                *(str(r.alerts_by_severity[s.value]) for s in reversed(Severity)),
                _e(", ".join(sorted({o.condition for o in r.onsets}))),
            ]
            for r in rows
        ),
    )
    return _page(
        "ivigwatch cohort report",
        intro,
        png,
        "alerts per condition and per session, rate and onset",
        f"<h2>Sessions</h2>\n{table}",
    )
