"""Plausible per-patient limits and snoozes of the cohort's nurse (issue 16, `ivigwatch cohort
--nurse-limits`): a patient's own limit where the usual value sits near the rule file's, and a short
snooze after a warning page the nurse has acknowledged. Both as the rule file bounds them."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from agents.rules.patient_limits import problems, snoozable_rows
from models.alerts import Alert, Severity
from models.events import NurseAction
from models.ruleset import RuleSet
from streams.apps.cohort.parameters import Parameter
from streams.apps.cohort.population import Patient
from streams.apps.cohort.responses import NURSE_ID

LIMIT_HOURS = 24.0
"""A limit is set for the day of the infusion (the rule file allows up to a week)."""
LOW_SPO2_BELOW = 95.0
"""A usual SpO2 below this gets a limit one point under the usual value (88-92 in the rule file)."""
HIGH_SYSTOLIC_FROM = 150.0
"""A usual systolic from this gets a limit 10 above it, rounded up to 5 (160-180 in the rule file)."""
SNOOZE_HOURS = 1.0
"""After acknowledging a warning page of a single-vital condition, the nurse snoozes it this long."""

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "nurse limits (--nurse-limits)",
        f"usual SpO2 < {LOW_SPO2_BELOW:g}: low limit one below it; usual systolic >= {HIGH_SYSTOLIC_FROM:g}: "
        f"high limit 10 above it (to 5); each for {LIMIT_HOURS:g} h from the first reading",
        "[assumption] a nurse sets the limits the care plan states for a patient with a known low "
        "saturation or treated hypertension",
    ),
    Parameter(
        "nurse snoozes (--nurse-limits)",
        f"after acknowledging a warning page of a single-vital condition: that condition for "
        f"{SNOOZE_HOURS:g} h",
        "[assumption] a nurse who called the patient and found them well silences the repeat for an hour",
    ),
)


def session_limits(patient: Patient, at: datetime, rules: RuleSet) -> list[NurseAction]:
    """The limits the nurse sets for this patient at `at` (before the first reading), within bounds."""
    until, reason = at + timedelta(hours=LIMIT_HOURS), "usual value (care plan)"
    wanted: list[dict[str, object]] = []
    if patient.usual["spo2"] < LOW_SPO2_BELOW:
        wanted.append({"vital": "spo2", "side": "low", "value": math.floor(patient.usual["spo2"]) - 1})
    if patient.usual["systolic_bp"] >= HIGH_SYSTOLIC_FROM:
        value = 5 * math.ceil((patient.usual["systolic_bp"] + 10) / 5)
        wanted.append({"vital": "systolic_bp", "side": "high", "value": value})
    out = []
    for setting in wanted:
        action = _limit(patient.patient_id, at, until, reason, setting, rules)
        if action is not None:
            out.append(action)
    return out


def _limit(
    patient_id: str, at: datetime, until: datetime, reason: str, setting: dict[str, object], rules: RuleSet
) -> NurseAction | None:
    """The limit clamped into the rule file's bounds (None: the rule file allows none)."""
    bounds = rules.patient_limits
    bound = None if bounds is None else bounds.bound(str(setting["vital"]), str(setting["side"]))
    if bound is None:
        return None
    value = min(max(float(str(setting["value"])), bound.min), bound.max)
    action = NurseAction.model_validate(
        {
            "type": "limit",
            "patient_id": patient_id,
            "by": NURSE_ID,
            "ts": at,
            "limit": {**setting, "value": value, "until": until, "reason": reason},
        }
    )
    return None if problems(action, rules) else action


def snooze_after_ack(alert: Alert, at: datetime, rules: RuleSet) -> NurseAction | None:
    """The snooze the nurse sets after acknowledging `alert` at `at` (None: not a warning page of a
    single-vital condition, or the rule file allows no snooze)."""
    if alert.severity is not Severity.WARNING or not snoozable_rows(rules, alert.condition.value):
        return None
    action = NurseAction.model_validate(
        {
            "type": "snooze",
            "patient_id": alert.patient_id,
            "by": NURSE_ID,
            "ts": at,
            "snooze": {
                "condition": alert.condition.value,
                "until": at + timedelta(hours=SNOOZE_HOURS),
                "reason": "called the patient: well, known",
            },
        }
    )
    return None if problems(action, rules) else action
