"""Session and cohort reports: PNG figures and self-contained HTML pages, for analysts.

Pure functions of plain data: a `SessionRecord` (see `streams.apps.sessions`) and the `RuleSet` in force.
Nothing here reads InfluxDB, files or the clock; figures are drawn on matplotlib's Agg canvas (no
display, no pyplot state) into memory. The image size is fixed: 1600 px wide and 300 px per panel
for a session (one panel per vital present, plus the infusion panel), 1600 x 1200 px for a cohort.

- `style`: sizes, colours, severity order, how times are written
- `canvas`: new figures on the Agg canvas, PNG bytes
- `session_data`: what a session's figure and page show (thresholds, baseline, rate, alerts)
- `session`, `infusion`: the session figure, its vital panels and its infusion panel
- `cohort_rows`, `cohort`: a row per session, and the cohort figure
- `page`: the HTML pages of both
"""

from streams.apps.report.cohort import cohort_png, cohort_size_px
from streams.apps.report.cohort_rows import OPERATIONAL, AlertOnset, CohortRow, cohort_row, cohort_title
from streams.apps.report.infusion import pack_labels
from streams.apps.report.page import cohort_html, session_html
from streams.apps.report.session_data import (
    AlertMark,
    Panel,
    RateSegment,
    ThresholdLine,
    alert_marks,
    panels_for,
    rate_segments,
    session_baseline,
    session_size_px,
    session_title,
    threshold_lines,
)
from streams.apps.report.session_figure import session_png
from streams.apps.report.style import SEVERITY_COLOURS, UNKNOWN_COLOUR, severity_colour, severity_rank

__all__ = [
    "OPERATIONAL",
    "SEVERITY_COLOURS",
    "UNKNOWN_COLOUR",
    "AlertMark",
    "AlertOnset",
    "CohortRow",
    "Panel",
    "RateSegment",
    "ThresholdLine",
    "alert_marks",
    "cohort_html",
    "cohort_png",
    "cohort_row",
    "cohort_size_px",
    "cohort_title",
    "pack_labels",
    "panels_for",
    "rate_segments",
    "session_baseline",
    "session_html",
    "session_png",
    "session_size_px",
    "session_title",
    "severity_colour",
    "severity_rank",
    "threshold_lines",
]
