"""GET /api/sessions/{session_id}: a stored session as JSON for the session page's chart (pure).

Readings, pump events (and the rate as steps), symptoms and alerts on one time axis, the baseline
the rule engine uses, the rule file's absolute limits per vital, and the profile's risk factors.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from models.ruleset import RuleSet
from streams.apps.console.alertbook import rfc3339
from streams.apps.report.session_data import rate_segments, session_baseline, threshold_lines
from streams.apps.sessions import SessionRecord

PROFILE_FIELDS = ("weight_kg", "usual_product", "epinephrine_available", "myasthenia_gravis")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def profile_view(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile in force: risk factors as a list (stored comma-separated) and the standing facts."""
    text = profile.get("risk_factors") or ""
    factors = [f for f in str(text).split(",") if f] if not isinstance(text, list) else list(text)
    return {"risk_factors": factors, **{k: profile[k] for k in PROFILE_FIELDS if k in profile}}


def session_view(record: SessionRecord, rules: RuleSet) -> dict[str, Any]:
    vitals_present = sorted({name for v in record.vitals for name in v.values})
    view: dict[str, Any] = _plain(
        {
            "session_id": record.session_id,
            "patient_id": record.patient_id,
            "start": record.start,
            "stop": record.stop,
            "product": record.product,
            "vitals": [{"ts": v.ts, "values": v.values, "on_oxygen": v.on_oxygen} for v in record.vitals],
            "pump": [asdict(p) for p in record.pump],
            "rate_segments": [asdict(s) for s in rate_segments(record, rules)],
            "symptoms": [asdict(s) for s in record.symptoms],
            "alerts": [asdict(a) for a in record.alerts],
            "baseline": session_baseline(record, rules),
            "thresholds": {
                vital: [
                    {"value": t.value, "op": t.op, "severity": t.severity.value, "label": t.label}
                    for t in threshold_lines(rules, vital)
                ]
                for vital in vitals_present
            },
            "profile": profile_view(record.profile),
            "rules": {"id": rules.ruleset.id, "version": rules.ruleset.version},
        }
    )
    return view
