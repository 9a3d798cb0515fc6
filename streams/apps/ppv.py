"""Positive predictive value of the rules (pure): of the alerts nurses resolved with an outcome
(contract v2), the share that needed action, per rule and condition, by product and rate band.

Definitions (also in the README, "Analysts"):
- an alert's *outcome* is the one on its own `resolved` message, else the one its incident was
  resolved with (a member that resolved by itself before the nurse closed the incident);
- its *rule* is the rule row of its last `firing` message (the row of the highest severity it reached);
- its *rate band* is the band of the pump rate when it first fired (`unknown` after the infusion or
  without a rate), its *product* the product of its session's pump events;
- PPV = needed_action / resolved with an outcome. The counts are shown beside it: a group of a few
  alerts says little, whatever its PPV.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from models.events import Outcome
from streams.apps.analyses import Cell, Rows, Table, When, in_period, rate_band

KINDS = ("all", "product", "rate band")
COLUMNS = ("rule", "condition", "by", "group", "resolved", *(o.value for o in Outcome), "ppv")


@dataclass(frozen=True, slots=True)
class Resolved:
    """One alert resolved with an outcome."""

    rule: str
    condition: str
    product: str
    band: str
    outcome: str
    first_firing_ms: int


def resolved_alerts(alert_rows: Rows, pump_rows: Rows) -> list[Resolved]:
    """Every finding (not an incident's own message) that has an outcome, with its rule, product and band."""
    rows = list(alert_rows)
    products = _products(pump_rows)
    incident_outcome = {
        r["alert_id"]: r["outcome"]
        for r in sorted(rows, key=lambda r: r["time"])
        if r.get("condition") == "incident" and r.get("status") == "resolved" and r.get("outcome")
    }
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("condition") != "incident":
            by_id[row["alert_id"]].append(row)
    out: list[Resolved] = []
    for messages in by_id.values():
        messages.sort(key=lambda r: r["time"])
        firing = [r for r in messages if r.get("status") == "firing"]
        own = [r["outcome"] for r in messages if r.get("status") == "resolved" and r.get("outcome")]
        incident = next((r["incident_id"] for r in messages if r.get("incident_id")), None)
        outcome = own[-1] if own else incident_outcome.get(incident or "")
        if not firing or outcome is None:
            continue
        first, last = firing[0], firing[-1]
        rate = first.get("rate_ml_per_h")
        out.append(
            Resolved(
                rule=str(last.get("rule_id") or "unknown"),
                condition=str(first.get("condition") or "unknown"),
                product=products.get(str(first.get("session_id")), "unknown"),
                band=rate_band(None if rate is None else float(rate)),
                outcome=str(outcome),
                first_firing_ms=int(first["time"]),
            )
        )
    return out


def _products(pump_rows: Rows) -> dict[str, str]:
    products: dict[str, str] = {}
    for row in sorted(pump_rows, key=lambda r: r["time"]):
        if row.get("product") and row.get("session_id"):
            products.setdefault(str(row["session_id"]), str(row["product"]))
    return products


def ppv(alert_rows: Rows, pump_rows: Rows, since: When = None, until: When = None) -> Table:
    """Per rule and condition: all alerts first fired in the period that were resolved with an
    outcome, then by product and by rate band; counts per outcome and the PPV."""
    groups: dict[tuple[str, str, str, str], list[Resolved]] = defaultdict(list)
    for alert in resolved_alerts(alert_rows, pump_rows):
        if not in_period(alert.first_firing_ms, since, until):
            continue
        for kind, name in (("all", "all"), ("product", alert.product), ("rate band", alert.band)):
            groups[alert.rule, alert.condition, kind, name].append(alert)
    return Table(COLUMNS, [_row(key, groups[key]) for key in sorted(groups, key=_order)])


def _order(key: tuple[str, str, str, str]) -> tuple[str, str, int, str]:
    rule, condition, kind, name = key
    return rule, condition, KINDS.index(kind), name


def _row(key: tuple[str, str, str, str], members: Iterable[Resolved]) -> tuple[Cell, ...]:
    counts = {o.value: 0 for o in Outcome}
    for member in members:
        counts[member.outcome] = counts.get(member.outcome, 0) + 1
    resolved = sum(counts.values())
    needed = counts[Outcome.NEEDED_ACTION.value]
    return (*key, resolved, *(counts[o.value] for o in Outcome), round(needed / resolved, 4))
