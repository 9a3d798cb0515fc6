"""Matplotlib's Agg canvas, used without a display or pyplot state: new figures, PNG bytes, time axes."""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from streams.apps.report.style import DPI, WIDTH_PX


def new_figure(height_px: int) -> Figure:
    """A figure the report's width and `height_px` tall, on its own Agg canvas."""
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG, without the matplotlib version in its metadata."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def date_x(ts: datetime) -> float:
    """Where `ts` stands on a matplotlib date axis."""
    return float(mdates.date2num(ts))  # type: ignore[no-untyped-call]  # matplotlib leaves it untyped
