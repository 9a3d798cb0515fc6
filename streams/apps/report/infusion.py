"""The session figure's bottom panel: the pump's rate over time, with symptoms and alerts marked on
lanes above it and their labels packed into rows so that they do not overlap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from streams.apps.report.canvas import date_x
from streams.apps.report.session_data import AlertMark, RateSegment
from streams.apps.report.style import (
    MUTED_TEXT_COLOUR,
    PAUSED_COLOUR,
    RATE_COLOUR,
    SEVERITY_COLOURS,
    START_COLOUR,
    STOP_COLOUR,
    SYMPTOM_COLOUR,
    WIDTH_PX,
    severity_colour,
    severity_rank,
)
from streams.apps.sessions import SessionRecord

LABEL_ROWS = (0.62, 0.69, 0.76, 0.83, 0.90, 0.97)
"""Rows (axes fraction) of the infusion panel where symptom and alert labels go."""
SYMPTOM_LANE = 0.52
ALERT_LANES = (0.12, 0.22, 0.32, 0.42)
"""Marker heights of info, warning, urgent and critical alerts (axes fraction)."""
CHAR_PX = 5.2
"""About how wide a character of the 8-point label font is, in pixels."""
STATUS_MARKERS = {"firing": "o", "escalated": "^", "acknowledged": "s", "resolved": "o"}


def infusion_ends(record: SessionRecord) -> list[tuple[datetime, str, str]]:
    """(time, word, colour) of the session's start and stop, those recorded."""
    ends = ((record.start, "start", START_COLOUR), (record.stop, "stop", STOP_COLOUR))
    return [(ts, word, colour) for ts, word, colour in ends if ts is not None]


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


def infusion_panel(
    ax: Axes,
    record: SessionRecord,
    segments: Sequence[RateSegment],
    marks: Sequence[AlertMark],
    xlim: tuple[float, float],
) -> None:
    _draw_rate(ax, segments)
    lane = blended_transform_factory(ax.transData, ax.transAxes)
    for ts, word, colour in infusion_ends(record):
        ax.axvline(date_x(ts), color=colour, lw=1.5)
        ax.text(date_x(ts), 0.02, f" {word}", transform=lane, color=colour, fontsize=9, va="bottom")
    labels: list[tuple[float, float, str, str]] = []  # x, marker height, text, colour
    for symptom in record.symptoms:
        x = date_x(symptom.ts)
        ax.plot([x], [SYMPTOM_LANE], marker="v", ms=9, color=SYMPTOM_COLOUR, transform=lane, zorder=4, ls="")
        labels.append((x, SYMPTOM_LANE, f"{symptom.symptom} ({symptom.severity})", SYMPTOM_COLOUR))
    for m in marks:
        y = ALERT_LANES[max(severity_rank(m.severity), 0)]
        colour = severity_colour(m.severity)
        hollow = m.status in ("acknowledged", "resolved")
        ax.plot(
            [date_x(m.ts)],
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
            labels.append((date_x(m.ts), y, m.label, colour))
    _draw_labels(ax, labels, xlim)
    _draw_legend(ax)
    ax.set_xlabel("time (UTC)")


def _draw_rate(ax: Axes, segments: Sequence[RateSegment]) -> None:
    top = max((s.rate for s in segments), default=0.0)
    for s in segments:
        x0, x1 = date_x(s.start), date_x(s.end)
        if s.paused:
            ax.axvspan(x0, x1, color=PAUSED_COLOUR, alpha=0.35, hatch="//", lw=0)
            ax.text(
                x0, 0.02, " paused", transform=ax.get_xaxis_transform(), fontsize=8, color=MUTED_TEXT_COLOUR
            )
            continue
        ax.fill_between([x0, x1], [s.rate, s.rate], color=RATE_COLOUR, alpha=0.3, lw=0)
        ax.hlines(s.rate, x0, x1, color=RATE_COLOUR, lw=2)
        ax.text(x0, s.rate, f" {s.rate:g}", fontsize=8, color=RATE_COLOUR, va="bottom")
    ax.set_ylim(0, (top or 1.0) * 2.0)  # the rate fills the lower half; markers and labels above
    ax.set_ylabel("Infusion rate\n(mL/h)")


def _draw_labels(ax: Axes, labels: list[tuple[float, float, str, str]], xlim: tuple[float, float]) -> None:
    """Each label on its row, left to right, with a thin line down to its marker."""
    lane = blended_transform_factory(ax.transData, ax.transAxes)
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


def _draw_legend(ax: Axes) -> None:
    """One row above the panel: the rate, symptoms, each severity and the alert statuses."""
    handles = [
        Patch(color=RATE_COLOUR, alpha=0.4, label="rate (mL/h)"),
        Line2D([], [], marker="v", ls="", color=SYMPTOM_COLOUR, label="symptom"),
        *(Line2D([], [], marker="o", ls="", color=c, label=s.value) for s, c in SEVERITY_COLOURS.items()),
        Line2D([], [], marker="^", ls="", color=MUTED_TEXT_COLOUR, label="escalated"),
        Line2D(
            [], [], marker="o", ls="", color=MUTED_TEXT_COLOUR, markerfacecolor="white", label="ack/resolved"
        ),
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
