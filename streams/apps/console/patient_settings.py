"""The nurses' limits and snoozes as the console shows them (issue 16): the `limit` and `snooze`
actions read from `ivig.actions.v1`, applied per patient by the rules' own code, so the console
shows what the rule worker applies; and what the form may offer, from the rule file."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime
from typing import Any

from agents.rules.engine import new_state
from agents.rules.patient_limits import LABELS, limit_text, snoozable_rows, snooze_text
from agents.rules.patient_limits import apply as apply_setting
from models.events import NurseAction
from models.ruleset import RuleSet

KEPT_PER_PATIENT = 64
"""The latest limit and snooze actions kept per patient (the ones in force are among them)."""
COMPOSITES = ("early_warning_score", "infusion_reaction", "anaphylaxis", "respiratory_compromise")
"""Conditions of the composite rules: listed in the form, always refused."""


class SettingActions:
    """The latest `limit` and `snooze` actions of each patient, in the order read."""

    def __init__(self) -> None:
        self.by_patient: dict[str, deque[NurseAction]] = defaultdict(lambda: deque(maxlen=KEPT_PER_PATIENT))

    def take(self, action: NurseAction) -> None:
        self.by_patient[action.patient_id].append(action)

    def in_force(self, patient_id: str, now: datetime, rules: RuleSet) -> dict[str, list[dict[str, Any]]]:
        """The patient's limits and snoozes in force at `now`, as the rules apply them."""
        state = new_state(patient_id)
        for action in self.by_patient.get(patient_id, ()):
            apply_setting(state, action, rules)
        return {
            "limits": [
                {**limit.model_dump(mode="json"), "text": limit_text(limit)}
                for limit in state.limits
                if limit.ts <= now < limit.until
            ],
            "snoozes": [
                {**snooze.model_dump(mode="json"), "text": snooze_text(snooze)}
                for snooze in state.snoozes
                if snooze.ts <= now < snooze.until
            ],
        }


def form_options(rules: RuleSet) -> dict[str, Any]:
    """What the forms offer: the vitals and sides with bounds, the longest expiries, and every
    condition and single-vital row (those that may not be snoozed marked so; the API refuses them)."""
    bounds = rules.patient_limits
    conditions: list[dict[str, Any]] = []
    for condition in dict.fromkeys(r.condition.value for r in rules.threshold):
        conditions.append(
            {
                "condition": condition,
                "rule": None,
                "severity": None,
                "snoozable": bool(snoozable_rows(rules, condition)),
            }
        )
        conditions += [
            {
                "condition": condition,
                "rule": r.id,
                "severity": r.severity.value,
                "snoozable": r.severity.value in ("warning", "urgent"),
            }
            for r in rules.threshold
            if r.condition.value == condition
        ]
    conditions += [{"condition": c, "rule": None, "severity": None, "snoozable": False} for c in COMPOSITES]
    return {
        "max_limit_hours": None if bounds is None else bounds.max_limit_hours,
        "max_snooze_hours": None if bounds is None else bounds.max_snooze_hours,
        "bounds": []
        if bounds is None
        else [
            {**b.model_dump(exclude={"source"}), "label": LABELS.get(b.vital, b.vital), "source": b.source}
            for b in bounds.bounds
        ],
        "snooze_targets": conditions,
    }
