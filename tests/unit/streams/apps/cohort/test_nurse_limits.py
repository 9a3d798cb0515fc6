"""The cohort nurse's per-patient limits and snoozes (`ivigwatch cohort --nurse-limits`)."""

from __future__ import annotations

import dataclasses

from agents.rules.loader import load_rules
from models.alerts import Condition
from streams.apps.cohort.figures import pages
from streams.apps.cohort.nurse_limits import session_limits, snooze_after_ack
from streams.apps.cohort.run import run_session
from streams.apps.cohort.session_plan import plan_session
from tests.unit.streams.apps.cohort.hand_built import at, message

RULES = load_rules()


def test_limits_follow_the_usual_values_within_the_rule_files_bounds() -> None:
    patient = plan_session(0, 14, 0.0).patient
    usual = {**patient.usual, "spo2": 91.4, "systolic_bp": 172.0}
    limits = session_limits(dataclasses.replace(patient, usual=usual), at(0), RULES)
    assert [(a.limit.vital, a.limit.value) for a in limits if a.limit] == [("spo2", 90), ("systolic_bp", 180)]
    assert session_limits(dataclasses.replace(patient, usual={**usual, "spo2": 97.0, "systolic_bp": 120.0}),
                          at(0), RULES) == []  # fmt: skip


def test_only_an_acknowledged_single_vital_warning_is_snoozed() -> None:
    snooze = snooze_after_ack(message("hypoxemia", "warning").alert, at(5), RULES)
    assert snooze is not None and snooze.snooze is not None and snooze.snooze.condition == "hypoxemia"
    assert snooze_after_ack(message("hypoxemia", "urgent").alert, at(5), RULES) is None
    assert snooze_after_ack(message("infusion_reaction", "warning").alert, at(5), RULES) is None


def test_a_low_spo2_patient_is_paged_only_below_the_nurses_limit() -> None:
    """A usual SpO2 of 91.4: the limit is 90. Without it the first 89 opens an alert that readings of
    91 keep open all day (one page); with it, that alert closes and a later dip below 90 pages again."""
    index = next(i for i in range(400) if plan_session(i, 14, 0.0).patient.usual["spo2"] < 93)
    emitted = run_session(plan_session(index, 14, 0.0), RULES, limits=True).emitted
    paged = [p.alert for p in pages(emitted) if p.alert.condition is Condition.HYPOXEMIA]
    assert paged and all(a.evidence.values["spo2"] < 90 for a in paged)
    assert all("patient limit SpO2 < 90 set by rn-cohort" in a.evidence.summary for a in paged)
