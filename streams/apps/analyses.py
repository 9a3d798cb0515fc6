"""Analysts' named analyses: pure functions from rows read from InfluxDB to a result table.

No I/O and no clock: rows are the dicts InfluxDB's series give (`time` in epoch milliseconds, tags
and fields by name) or a `SessionRecord`; `streams/apps/cli/query_cmd.py` fetches them and prints the table.

Definitions (also in the README, "Analysts"):
- a *reaction* is an alert of a condition in `REACTION_CONDITIONS`, at any severity;
- a session's *rate band* is the band of the highest pump rate it reached, in mL/h (`RATE_BANDS`);
- an alert belongs to the period of its first `firing` message; its severity is the highest it reached;
- percentiles (the median too) are nearest-rank: the smallest value with at least p% of values <= it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.rules.session import phase_at
from models.events import VITAL_NAMES
from models.ruleset import RuleSet
from streams.apps.sessions import SessionRecord, rule_session

Cell = str | int | float | None
Rows = Iterable[dict[str, Any]]
When = datetime | None

REACTION_CONDITIONS = ("infusion_reaction", "anaphylaxis", "respiratory_compromise")
"""The composite reactions of the rule file: IVIG infusion reaction, anaphylaxis, TRALI/TACO."""
RATE_BANDS = ((100.0, "<100"), (200.0, "100-199"), (300.0, "200-299"), (math.inf, ">=300"))
"""(upper limit exclusive, name) in mL/h, of the highest rate a session reached."""
BAND_NAMES = tuple(name for _, name in RATE_BANDS)
SEVERITIES = ("info", "warning", "urgent", "critical")


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def rows_of(series: Rows) -> list[dict[str, Any]]:
    """InfluxDB series as one dict per point (tags of GROUP BY included)."""
    rows: list[dict[str, Any]] = []
    for s in series:
        tags = s.get("tags") or {}
        rows.extend(
            {**tags, **dict(zip(s["columns"], values, strict=True))} for values in s.get("values", [])
        )
    return rows


def rfc3339(ts: datetime | int) -> str:
    """An RFC 3339 time in UTC with a `Z` offset; milliseconds only when there are some."""
    when = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts / 1000, tz=UTC)
    when = when.astimezone(UTC)
    spec = "milliseconds" if when.microsecond else "seconds"
    return when.isoformat(timespec=spec).replace("+00:00", "Z")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(milliseconds=1)


def in_period(ms: int, since: When, until: When) -> bool:
    """`since` inclusive, `until` exclusive; either may be open."""
    return (since is None or ms >= epoch_ms(since)) and (until is None or ms < epoch_ms(until))


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The value at rank ceil(p/100 * n) of the sorted values (1-based); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def rate_band(rate_ml_per_h: float | None) -> str:
    if rate_ml_per_h is None:
        return "unknown"
    return next(name for limit, name in RATE_BANDS if rate_ml_per_h < limit)


def _band_order(name: str) -> int:
    return BAND_NAMES.index(name) if name in BAND_NAMES else len(BAND_NAMES)


def _round(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes, 2)


def _severity_rank(severity: str | None) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


# --- timeline ------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def timeline(record: SessionRecord, rules: RuleSet) -> Table:
    """Every reading, pump event, symptom and alert message in time order (at equal times: pump,
    reading, symptom, alert). An alert shows the phase the rules gave it; the others, the phase the
    rule engine gives the session's pump history."""
    session = rule_session(record)
    entries: list[tuple[datetime, int, tuple[Cell, ...]]] = []

    def add(ts: datetime, order: int, phase: str, *cells: Cell) -> None:
        entries.append((ts, order, (rfc3339(ts), phase or phase_at(session, ts, rules).value, *cells)))

    for p in record.pump:
        detail = f"dose {_number(p.dose_g)} g" if p.dose_g is not None else ""
        add(p.ts, 0, "", "pump", p.action, p.rate_ml_per_h, p.product, None, detail)
    for v in record.vitals:
        detail = " ".join(f"{n}={_number(v.values[n])}" for n in VITAL_NAMES if n in v.values)
        detail += " on_oxygen" if v.on_oxygen else ""
        add(v.ts, 1, "", "vitals", "reading", None, None, None, detail)
    for s in record.symptoms:
        detail = f"score {_number(s.score)}" if s.score is not None else ""
        add(s.ts, 2, "", "symptom", s.symptom, None, None, s.severity, detail)
    for a in record.alerts:
        detail = a.title + (f" (level {a.escalation_level})" if a.escalation_level else "")
        detail += f" by {a.by}" if a.by else ""
        add(a.ts, 3, a.phase, "alert", f"{a.condition} {a.status}", None, None, a.severity, detail)
    entries.sort(key=lambda e: (e[0], e[1]))
    columns = ("time", "phase", "kind", "event", "rate_ml_per_h", "product", "severity", "detail")
    return Table(columns, [cells for _, _, cells in entries])


# --- reactions -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionFacts:
    session_id: str
    start_ms: int
    product: str
    max_rate: float | None
    reaction: bool


def session_facts(pump_rows: Rows, alert_rows: Rows) -> list[SessionFacts]:
    """Per session with a pump `start`: first start, product, highest rate, and whether it reacted."""
    pump: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in pump_rows:
        pump[row["session_id"]].append(row)
    reacting = {r["session_id"] for r in alert_rows if r.get("condition") in REACTION_CONDITIONS}
    facts: list[SessionFacts] = []
    for session_id, rows in pump.items():
        rows.sort(key=lambda r: r["time"])
        starts = [r["time"] for r in rows if r.get("action") == "start"]
        if not starts:
            continue
        rates = [float(r["rate_ml_per_h"]) for r in rows if r.get("rate_ml_per_h") is not None]
        product = next((r["product"] for r in rows if r.get("product")), "unknown")
        facts.append(
            SessionFacts(session_id, starts[0], product, max(rates, default=None), session_id in reacting)
        )
    return facts


def reactions(pump_rows: Rows, alert_rows: Rows, since: When = None, until: When = None) -> Table:
    """Reaction rate of the sessions started in the period, per product, per rate band, per both."""
    facts = [f for f in session_facts(pump_rows, alert_rows) if in_period(f.start_ms, since, until)]
    groups: dict[tuple[str, str], list[SessionFacts]] = defaultdict(list)
    for f in facts:
        band = rate_band(f.max_rate)
        groups["product", f.product].append(f)
        groups["rate band", band].append(f)
        groups["product x rate band", f"{f.product}, {band}"].append(f)
        groups["all", "all sessions"].append(f)

    def order(key: tuple[str, str]) -> tuple[int, str, int]:
        kind, name = key
        product, _, band = name.rpartition(", ") if kind == "product x rate band" else (name, "", name)
        kinds = ["product", "rate band", "product x rate band", "all"]
        return kinds.index(kind), product if kind != "rate band" else "", _band_order(band)

    rows: list[tuple[Cell, ...]] = []
    for key in sorted(groups, key=order):
        members = groups[key]
        reacted = sum(f.reaction for f in members)
        rows.append((*key, len(members), reacted, round(reacted / len(members), 4)))
    return Table(("by", "group", "sessions", "reacting", "rate"), rows)


# --- alerts and time to acknowledge ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertFacts:
    alert_id: str
    condition: str
    severity: str
    first_firing_ms: int
    first_ack_ms: int | None
    severity_at_ack: str | None


def alert_facts(alert_rows: Rows) -> list[AlertFacts]:
    """Per alert_id with a `firing` message: its first firing, highest severity, first acknowledgement.
    An incident's own messages (contract v2) are no finding and are left out."""
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in alert_rows:
        if row.get("condition") != "incident":
            by_id[row["alert_id"]].append(row)
    facts: list[AlertFacts] = []
    for alert_id, rows in by_id.items():
        firing = [r["time"] for r in rows if r.get("status") == "firing"]
        if not firing:
            continue
        acks = [r["time"] for r in rows if r.get("status") == "acknowledged"]
        ack = min(acks) if acks else None
        top = max((r.get("severity") for r in rows), key=_severity_rank)
        at_ack = None
        if ack is not None:
            at_ack = max((r.get("severity") for r in rows if r["time"] <= ack), key=_severity_rank)
        condition = next((r["condition"] for r in rows if r.get("condition")), "unknown")
        facts.append(AlertFacts(alert_id, condition, str(top), min(firing), ack, at_ack))
    return facts


def alert_counts(alert_rows: Rows, since: When = None, until: When = None) -> Table:
    """Distinct alerts that first fired in the period, by condition and the highest severity reached."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for f in alert_facts(alert_rows):
        if in_period(f.first_firing_ms, since, until):
            counts[f.condition, f.severity] += 1
    keys = sorted(counts, key=lambda k: (k[0], -_severity_rank(k[1])))
    return Table(("condition", "severity", "alerts"), [(c, s, counts[c, s]) for c, s in keys])


def ack_times(alert_rows: Rows, since: When = None, until: When = None) -> Table:
    """Per severity (when acknowledged; else the highest reached): minutes from the first `firing`
    to the first `acknowledged` message, median and p90 by nearest rank, acknowledged and never."""
    minutes: dict[str, list[float]] = defaultdict(list)
    never: dict[str, int] = defaultdict(int)
    for f in alert_facts(alert_rows):
        if not in_period(f.first_firing_ms, since, until):
            continue
        if f.first_ack_ms is None:
            never[f.severity] += 1
        else:
            minutes[f.severity_at_ack or f.severity].append((f.first_ack_ms - f.first_firing_ms) / 60000)
    rows: list[tuple[Cell, ...]] = []
    for severity in sorted(set(minutes) | set(never), key=_severity_rank, reverse=True):
        values = minutes.get(severity, [])
        median, p90 = (nearest_rank(values, p) for p in (50, 90))
        rows.append((severity, len(values), never.get(severity, 0), _round(median), _round(p90)))
    return Table(("severity", "acknowledged", "never_acknowledged", "median_min", "p90_min"), rows)


# --- ad-hoc InfluxQL -----------------------------------------------------------------------------

_INTO = re.compile(r"\binto\b", re.IGNORECASE)
_FIRST_WORD = re.compile(r"^(select|show)\s", re.IGNORECASE)


def read_only_statement(influxql: str) -> str:
    """The statement if it is one SELECT (without INTO) or SHOW; else ValueError.

    InfluxDB 1.x runs write statements (DROP, DELETE, SELECT INTO) even over GET, so this check is
    the guard. It is deliberately blunt: it reads the raw text, so a `;` or the word INTO inside a
    string or regex is refused too rather than risk a statement hidden behind quoting.
    """
    text = influxql.strip()
    text = text[:-1].rstrip() if text.endswith(";") else text
    if not _FIRST_WORD.match(text + " "):
        raise ValueError("only SELECT and SHOW statements are allowed (the query is read-only)")
    if ";" in text:
        raise ValueError("one statement at a time: remove the ';'")
    if _INTO.search(text):
        raise ValueError("SELECT ... INTO writes data: not allowed (the query is read-only)")
    return text


def series_table(series: Sequence[dict[str, Any]]) -> Table:
    """InfluxDB series as one table: `series` (its name), the GROUP BY tags, then the columns; times
    as RFC 3339."""
    tag_keys = sorted({k for s in series for k in (s.get("tags") or {})})
    columns: list[str] = []
    for s in series:
        columns.extend(c for c in s["columns"] if c not in columns)
    rows: list[tuple[Cell, ...]] = []
    for s in series:
        tags = s.get("tags") or {}
        for values in s.get("values", []):
            point = dict(zip(s["columns"], values, strict=True))
            if isinstance(point.get("time"), int):
                point["time"] = rfc3339(point["time"])
            rows.append((s.get("name"), *(tags.get(k) for k in tag_keys), *(point.get(c) for c in columns)))
    return Table(("series", *tag_keys, *columns), rows)
