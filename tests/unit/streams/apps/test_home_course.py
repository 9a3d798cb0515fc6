"""The demo's patient at home: the simulated patients' check-in answers, found by the rule engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.rules.loader import load_rules
from streams.apps.home_course import simulated_answers
from streams.apps.simulator import scenario_plan

RULES = load_rules()
START = datetime(2026, 12, 7, 9, tzinfo=UTC)


def test_every_simulated_patient_answers_the_asked_days_but_the_one_left_silent() -> None:
    plan = scenario_plan(("uneventful", "uneventful"), START, 7)
    patients = sorted({str(e["patient_id"]) for e in plan})
    answers = simulated_answers(plan, RULES, (1, 2), frozenset({(patients[0], 1)}))
    by_patient = {
        p: [a["checkin_id"].rsplit(":", 1)[1] for a in answers if a["patient_id"] == p] for p in patients
    }
    assert by_patient == {patients[0]: ["48h"], patients[1]: ["24h", "48h"]}
    stops = [e for e in plan if e.get("action") == "stop" and e["patient_id"] == patients[1]]
    stop = datetime.fromisoformat(str(stops[0]["ts"]).replace("Z", "+00:00"))
    first = next(a for a in answers if a["patient_id"] == patients[1])
    assert first["ts"] == (stop + timedelta(hours=24, minutes=20)).isoformat().replace("+00:00", "Z")
    assert first["symptoms"] == [] and first["event_id"].endswith(":answer")
