"""The session figure: a panel per vital recorded (its readings, the rule engine's baseline and the rule
file's thresholds, over the infusion's shading) above the infusion panel, as PNG bytes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, timedelta

import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.transforms import Transform, blended_transform_factory

from models.ruleset import RuleSet
from streams.apps.report.canvas import date_x, new_figure, png_bytes
from streams.apps.report.infusion import infusion_ends, infusion_panel
from streams.apps.report.session_data import (
    SERIES,
    AlertMark,
    Panel,
    RateSegment,
    alert_marks,
    panels_for,
    rate_segments,
    recorded_times,
    session_baseline,
    session_size_px,
    session_title,
    threshold_lines,
)
from streams.apps.report.style import PAUSED_COLOUR, RATE_COLOUR, severity_colour
from streams.apps.sessions import SessionRecord


def session_png(record: SessionRecord, rules: RuleSet) -> bytes:
    """The session figure as PNG bytes (1600 x 300 per panel px)."""
    panels = panels_for(record)
    _, height = session_size_px(record)
    fig = new_figure(height)
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
    times = recorded_times(record)
    lo, hi = min(times), max(times)
    pad = max((hi - lo) * 0.02, timedelta(minutes=10))
    xlim = (date_x(lo - pad), date_x(hi + pad))
    infusion_panel(axes[-1], record, segments, marks, xlim)
    first.set_xlim(*xlim)
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(formatter)
    return png_bytes(fig)


def _shade_infusion(ax: Axes, segments: Sequence[RateSegment], record: SessionRecord) -> None:
    """The infusion behind a vital's readings: darker at higher rates, hatched while paused."""
    top = max((s.rate for s in segments), default=0.0) or 1.0
    for s in segments:
        if s.paused:
            ax.axvspan(date_x(s.start), date_x(s.end), color=PAUSED_COLOUR, alpha=0.25, hatch="//", lw=0)
        else:
            alpha = 0.04 + 0.14 * s.rate / top
            ax.axvspan(date_x(s.start), date_x(s.end), color=RATE_COLOUR, alpha=alpha, lw=0)
    for ts, _, colour in infusion_ends(record):
        ax.axvline(date_x(ts), color=colour, lw=1.2, ls="-", alpha=0.8)


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
            ax.axvline(date_x(m.ts), color=severity_colour(m.severity), lw=0.9, alpha=0.6, ls="-")
    levels: list[float] = []
    right = blended_transform_factory(ax.transAxes, ax.transData)
    for vital in panel.vitals:
        points = [(v.ts, v.values[vital]) for v in record.vitals if vital in v.values]
        if not points:
            continue
        name, colour = SERIES[vital]
        ax.plot(
            [date_x(t) for t, _ in points],
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
            _draw_baseline(ax, right, f"baseline {name}", base[vital], colour)
            levels.append(base[vital])
        for line in threshold_lines(rules, vital):
            _draw_threshold(ax, right, line.label, line.value, severity_colour(line.severity))
            levels.append(line.value)
    low, high = min(levels), max(levels)
    pad = max((high - low) * 0.08, 0.5)
    ax.set_ylim(low - pad, high + pad * 1.6)
    ax.set_ylabel(f"{panel.title}\n({panel.unit})")
    ax.grid(True, axis="y", alpha=0.3)
    if len(panel.vitals) > 1:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.8)


def _draw_baseline(ax: Axes, right: Transform, name: str, value: float, colour: str) -> None:
    """A dotted line at the baseline, labelled at the panel's left edge."""
    ax.axhline(value, color=colour, ls=":", lw=1.4, zorder=2)
    ax.text(
        0.002, value, f"{name} {value:g}", transform=right, fontsize=8, color=colour, ha="left", va="bottom"
    )


def _draw_threshold(ax: Axes, right: Transform, label: str, value: float, colour: str) -> None:
    """A dashed line at a rule file's limit, labelled at the panel's right edge."""
    ax.axhline(value, color=colour, ls="--", lw=1.2, zorder=1)
    ax.text(
        0.998,
        value,
        label,
        transform=right,
        fontsize=8,
        color=colour,
        ha="right",
        va="bottom",
        bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 0.5},
    )
