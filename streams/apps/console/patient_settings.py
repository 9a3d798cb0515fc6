"""The nurses' limits and snoozes as the console shows them (issue 16): the `limit` and `snooze`
actions read from `ivig.actions.v1`, applied per patient by the rules' own code, so the console
shows what the rule worker applies; the quiet a nurse's resolution starts (rule file
`[incidents.quiet_after_resolve]`), from the resolution's messages; and what the form may offer,
from the rule file."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agents.rules.engine import new_state
from agents.rules.patient_limits import LABELS, limit_text, snoozable_rows, snooze_text
from agents.rules.patient_limits import apply as apply_setting
from agents.rules.quiet_state import active
from agents.rules.resolve_quiet import evidence as quiet_evidence
from agents.rules.resolve_quiet import quiet_of, says_quiet
from models.alerts import Alert, AlertStatus, Condition
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
        self.resolutions: dict[str, deque[Alert]] = defaultdict(lambda: deque(maxlen=KEPT_PER_PATIENT))

    def take(self, action: NurseAction) -> None:
        self.by_patient[action.patient_id].append(action)

    def take_resolution(self, alert: Alert) -> bool:
        """A finding resolved by a nurse (its message): it may have started a quiet. Whether kept."""
        if alert.status is not AlertStatus.RESOLVED or alert.condition is Condition.INCIDENT or not alert.by:
            return False  # the latest nurse resolution of a condition decides, quiet or not
        kept = self.resolutions[alert.patient_id]
        for earlier in [
            a for a in kept if (a.session_id, a.condition) == (alert.session_id, alert.condition)
        ]:
            kept.remove(earlier)  # the latest resolution of a condition decides (as the rules do)
        kept.append(alert)
        return True

    def quiets(
        self,
        patient_id: str,
        now: datetime,
        rules: RuleSet,
        edges: Mapping[str, tuple[datetime | None, datetime | None]],
    ) -> list[dict[str, Any]]:
        """The quiets after a nurse's resolution in force at `now` (`edges`: each session's start and
        stop; a quiet from before the start ends at it, and every quiet at the stop)."""
        shown = []
        for alert in self.resolutions.get(patient_id, ()):
            quiet = quiet_of(alert, rules) if says_quiet(alert) else None
            start, stop = edges.get(alert.session_id, (None, None))
            if quiet is None or not active(quiet, now, stop, start):
                continue
            text = f"{alert.condition.value} resolved by {alert.by} as {alert.outcome}: " + quiet_evidence(
                quiet
            )
            shown.append({"key": f"{alert.alert_id}:quiet", "text": text, "until": quiet.until.isoformat()})
        return shown

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
