"""The cohort figure (1600 x 1200 px): alerts per condition, maximum rate against the worst reaction,
alert onset after rate increases, and alerts per session, as PNG bytes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from models.alerts import Severity
from models.ruleset import RuleSet
from streams.apps.report.canvas import new_figure, png_bytes
from streams.apps.report.cohort_rows import OPERATIONAL, CohortRow, cohort_title
from streams.apps.report.style import (
    COHORT_HEIGHT_PX,
    NO_ALERT_COLOUR,
    SEVERITY_COLOURS,
    WIDTH_PX,
    severity_colour,
    severity_rank,
)

SESSIONS_SHOWN = 30
"""The most sessions the per-session panel lists (the page's table lists them all)."""


def cohort_size_px() -> tuple[int, int]:
    return WIDTH_PX, COHORT_HEIGHT_PX


def cohort_png(rows: Sequence[CohortRow], rules: RuleSet, since: datetime, until: datetime | None) -> bytes:
    """The cohort figure as PNG bytes (1600 x 1200 px): alerts per condition, maximum rate against
    the worst reaction, alert onset after rate increases, and alerts per session."""
    fig = new_figure(COHORT_HEIGHT_PX)
    fig.suptitle(cohort_title(rows, since, until, rules), fontsize=12)
    grid = fig.add_gridspec(2, 2)
    _conditions_panel(fig.add_subplot(grid[0, 0]), rows)
    _scatter_panel(fig.add_subplot(grid[0, 1]), rows)
    _onset_panel(fig.add_subplot(grid[1, 0]), rows, rules)
    _sessions_panel(fig.add_subplot(grid[1, 1]), rows)
    return png_bytes(fig)


def _no_data(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="#777777")


def _bars_by_severity(
    ax: Axes, positions: Sequence[str] | Sequence[int], widths_of: Callable[[str], list[int]]
) -> None:
    """Horizontal bars stacked info to critical; `widths_of(severity)` gives a width per position."""
    left = [0] * len(positions)
    for severity, colour in SEVERITY_COLOURS.items():
        widths = widths_of(severity.value)
        ax.barh(positions, widths, left=left, color=colour, label=severity.value)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _conditions_panel(ax: Axes, rows: Sequence[CohortRow]) -> None:
    counts = Counter((o.condition, o.severity) for r in rows for o in r.onsets)
    totals = Counter[str]()
    for (condition, _), n in counts.items():
        totals[condition] += n
    conditions = sorted(totals, key=lambda c: (totals[c], c))
    _bars_by_severity(ax, conditions, lambda severity: [counts.get((c, severity), 0) for c in conditions])
    ax.set_title("Alerts per condition (by the highest severity each reached)", fontsize=11)
    ax.set_xlabel("alerts")
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
    _bars_by_severity(
        ax, range(len(ranked)), lambda severity: [r.alerts_by_severity[severity] for r in ranked]
    )
    ax.set_yticks(range(len(ranked)), names, fontsize=7 if len(ranked) > 15 else 8)
    hidden = len(rows) - len(ranked)
    more = f" ({hidden} more in the HTML table)" if hidden > 0 else ""
    ax.set_title(f"Alerts per session, most serious first{more}", fontsize=11)
    ax.set_xlabel("alerts (by highest severity)")
