"""Self-contained HTML pages (no link out): the figure inline as base64 PNG, then tables."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from datetime import datetime

from models.alerts import Severity
from models.ruleset import RuleSet
from streams.apps.report.cohort_rows import CohortRow, cohort_title
from streams.apps.report.session_data import SERIES, alert_histories, session_baseline, session_title
from streams.apps.report.style import severity_colour, utc_minute
from streams.apps.sessions import SessionRecord

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "img{max-width:100%;border:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:.9em;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}th{background:#f3f3f3}"
    ".sev{font-weight:bold;padding:0 .4em;border-radius:3px;color:#fff}"
)


def session_html(record: SessionRecord, rules: RuleSet, png: bytes) -> str:
    """A self-contained page: the figure inline (base64), the alerts and the symptoms as tables."""
    base = session_baseline(record, rules)
    described = ", ".join(f"{SERIES[k][0]} {v:g}" for k, v in base.items()) or "none"
    intro = _lines(session_title(record, rules)) + f"<p>Baseline (the rule engine's): {_e(described)}</p>"
    alerts = _table(
        ["opened", "alert", "condition", "highest severity", "rule", "title", "last status"],
        (
            [
                utc_minute(h.first.ts),
                _e(h.highest.alert_id),
                _e(h.highest.condition),
                _severity(h.highest.severity),
                _e(h.highest.rule_id),
                _e(h.highest.title),
                _e(h.last.status),
            ]
            for h in alert_histories(record)
        ),
    )
    symptoms = _table(
        ["time", "symptom", "severity", "score"],
        ([utc_minute(s.ts), _e(s.symptom), _e(s.severity), _e(s.score)] for s in record.symptoms),
    )
    return _page(
        f"Session {record.session_id}",
        intro,
        png,
        f"vitals, thresholds, infusion rate, symptoms and alerts of session {record.session_id}",
        f"<h2>Alerts</h2>\n{alerts}\n<h2>Symptoms</h2>\n{symptoms}",
    )


def cohort_html(
    rows: Sequence[CohortRow], rules: RuleSet, since: datetime, until: datetime | None, png: bytes
) -> str:
    """A self-contained page: the cohort figure inline and one table row per session."""
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
                utc_minute(r.start),
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
        _lines(cohort_title(rows, since, until, rules)),
        png,
        "alerts per condition and per session, rate and onset",
        f"<h2>Sessions</h2>\n{table}",
    )


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _lines(text: str) -> str:
    """A paragraph of `text`'s lines."""
    return "<p>" + "<br>".join(_e(line) for line in text.splitlines()) + "</p>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def _severity(severity: str) -> str:
    return f'<span class="sev" style="background:{severity_colour(severity)}">{_e(severity)}</span>'


def _page(title: str, intro: str, png: bytes, alt: str, sections: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n<h1>{_e(title)}</h1>\n{intro}\n"
        f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">\n{sections}\n</body>\n</html>\n'
    )
