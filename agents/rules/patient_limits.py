"""Per-patient limits and snoozes set by nurses (issue 16): checked against the rule file, kept in the
patient's state, applied to the warning and urgent single-vital rows of each reading timed while they
are in force. Pure: a reading's own time decides, so live and replay agree."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from agents.rules.confirmation import beyond_extreme
from agents.rules.registry import RuleLine, register
from agents.rules.thresholds import RowResult
from models.alerts import Condition
from models.events import NurseAction
from models.ruleset import RuleSet, ThresholdRule
from models.state import LimitInForce, PatientState, SettingInForce, SnoozeInForce

KEEP_ENDED = timedelta(days=2)
"""How long an ended limit or snooze is kept, for readings that arrive late (timed while it was in force)."""
MAX_KEPT = 32
"""At most this many limits (and as many snoozes) per patient; the oldest ended ones go first."""

S = TypeVar("S", bound=SettingInForce)

LABELS = {
    "heart_rate": "heart rate",
    "systolic_bp": "systolic BP",
    "diastolic_bp": "diastolic BP",
    "temperature_c": "temperature",
    "respiratory_rate": "respiratory rate",
    "spo2": "SpO2",
}


def snoozable_rows(rules: RuleSet, condition: str, rule: str | None = None) -> tuple[ThresholdRule, ...]:
    """The rows a snooze of `condition` (or of its one row `rule`) silences: warning and urgent
    single-vital threshold rows only."""
    try:
        rows = rules.rows_by_condition[Condition(condition)]
    except ValueError:
        return ()
    return tuple(
        r for r in rows if r.severity.value in ("warning", "urgent") and (rule is None or r.id == rule)
    )


def problems(action: NurseAction, rules: RuleSet) -> list[str]:
    """Why a `limit` or `snooze` action cannot be taken under `rules` (empty: it can; other actions
    always can). Errors name fields and rule-file limits, never the patient's values."""
    setting = action.limit or action.snooze
    if setting is None:
        return []
    name = action.type
    bounds = rules.patient_limits
    if bounds is None:
        return [f"({name}): this rule file allows no patient limits or snoozes [{name}_not_allowed]"]
    errors: list[str] = []
    if action.snooze is not None:
        snooze = action.snooze
        row = next((r for r in rules.threshold if r.id == snooze.rule), None)
        if row is not None and row.severity.value == "critical":
            errors.append(
                f"(snooze.rule): {snooze.rule} is a critical row: critical rows are never snoozed "
                "[not_snoozable]"
            )
        elif not snoozable_rows(rules, snooze.condition, snooze.rule):
            errors.append(
                f"(snooze.condition): {snooze.condition}"
                + (f" / {snooze.rule}" if snooze.rule else "")
                + " has no warning or urgent single-vital threshold row: critical rows, composites "
                "(NEWS2, infusion reaction, anaphylaxis, respiratory compromise), symptom rows and "
                "extreme limits are never snoozed [not_snoozable]"
            )
        longest = bounds.max_snooze_hours
    elif action.limit is not None:
        limit = action.limit
        bound = bounds.bound(limit.vital, limit.side)
        if bound is None:
            errors.append(
                f"(limit.vital): the rule file sets no bounds for a {limit.side} limit of {limit.vital}: "
                "it cannot have a patient limit [limit_not_allowed]"
            )
        elif limit.value is not None and not bound.min <= limit.value <= bound.max:
            errors.append(
                f"(limit.value): outside the rule file's bounds {bound.min:g}-{bound.max:g} "
                f"for a {limit.side} limit of {limit.vital} [limit_out_of_bounds]"
            )
        longest = bounds.max_limit_hours
    else:
        return []
    if setting.until is not None and not setting.clear:
        if setting.until <= action.ts:
            errors.append(f"({name}.until): not after the action's time [{name}_expired]")
        elif setting.until - action.ts > timedelta(hours=longest):
            errors.append(
                f"({name}.until): more than the rule file's {longest:g} h after the action [{name}_too_long]"
            )
    return errors


def apply(state: PatientState, action: NurseAction, rules: RuleSet) -> None:
    """Record a limit or snooze (or end the one in force when `clear`). An action that breaks the
    rule file's bounds changes nothing (the worker dead-letters it before; replay reports it)."""
    if problems(action, rules):
        return
    if action.limit is not None:
        limit = action.limit
        state.limits = _kept(_ended(state.limits, action), action.ts)
        if not limit.clear and limit.value is not None and limit.until is not None and limit.reason:
            state.limits.append(
                LimitInForce(
                    key=action.alert_id,
                    by=action.by,
                    reason=limit.reason,
                    ts=action.ts,
                    until=limit.until,
                    vital=limit.vital,
                    side=limit.side,
                    value=limit.value,
                )
            )
    elif action.snooze is not None:
        snooze = action.snooze
        state.snoozes = _kept(_ended(state.snoozes, action), action.ts)
        if not snooze.clear and snooze.until is not None and snooze.reason:
            state.snoozes.append(
                SnoozeInForce(
                    key=action.alert_id,
                    by=action.by,
                    reason=snooze.reason,
                    ts=action.ts,
                    until=snooze.until,
                    condition=Condition(snooze.condition),
                    rule=snooze.rule,
                )
            )


def _ended(entries: list[S], action: NurseAction) -> list[S]:
    """The entries, the one of the same key in force at the action's time ending then."""
    for entry in entries:
        if entry.key == action.alert_id and entry.ts <= action.ts < entry.until:
            entry.until = action.ts
    return entries


def _kept(entries: list[S], now: datetime) -> list[S]:
    recent = [e for e in entries if e.until >= now - KEEP_ENDED]
    return recent[-(MAX_KEPT - 1) :]


@dataclass(frozen=True, slots=True)
class InForce:
    """The limits and snoozes in force at one reading's time."""

    limits: dict[tuple[str, str], LimitInForce] = field(default_factory=dict)
    snoozes: dict[Condition, list[SnoozeInForce]] = field(default_factory=dict)


def in_force(state: PatientState, ts: datetime) -> InForce | None:
    """What is in force for a reading timed `ts` (None: nothing, the common case)."""
    if not state.limits and not state.snoozes:
        return None
    force = InForce()
    for limit in state.limits:
        if limit.ts <= ts < limit.until:
            force.limits[(limit.vital, limit.side)] = limit
    for snooze in state.snoozes:
        if snooze.ts <= ts < snooze.until:
            force.snoozes.setdefault(snooze.condition, []).append(snooze)
    return force if force.limits or force.snoozes else None


def adjust(result: RowResult, force: InForce, margin: float, rules: RuleSet) -> RowResult:
    """A row's result with the patient's limits and snoozes applied: a snoozed row neither fires nor
    holds; a limited one fires only past the patient's limit (holds within the hysteresis margin of
    it). Critical rows and values beyond an extreme limit are left as they are."""
    rule = result.rule
    if not (result.fires or result.holds) or rule.severity.value not in ("warning", "urgent"):
        return result
    if beyond_extreme({rule.vital: result.value}, rules):
        return result
    if any(s.rule is None or s.rule == rule.id for s in force.snoozes.get(rule.condition, ())):
        return replace(result, fires=False, holds=False)
    side = rule.limit_side
    limit = force.limits.get((rule.vital, side)) if side is not None else None
    if limit is None:
        return result
    value, low = result.value, side == "low"
    past = value < limit.value if low else value > limit.value
    held = value < limit.value + margin if low else value > limit.value - margin
    return replace(result, fires=result.fires and past, holds=result.holds and held)


def _when(entry: SettingInForce) -> str:
    return f"by {entry.by} until {entry.until:%Y-%m-%d %H:%M} UTC, reason: {entry.reason}"


def limit_text(limit: LimitInForce) -> str:
    op = "<" if limit.side == "low" else ">"
    return f"patient limit {LABELS.get(limit.vital, limit.vital)} {op} {limit.value:g} set {_when(limit)}"


def snooze_text(snooze: SnoozeInForce) -> str:
    what = snooze.condition.value + (f" ({snooze.rule})" if snooze.rule else "")
    return f"{what} snoozed {_when(snooze)}; critical rows and extreme values still page"


def evidence(force: InForce | None, condition: Condition, results: list[RowResult]) -> str:
    """The limits and snoozes in force that bear on a finding, in words ('' when none)."""
    if force is None:
        return ""
    texts = [
        limit_text(limit)
        for (vital, _side), limit in sorted(force.limits.items())
        if any(r.rule.vital == vital for r in results)
    ]
    texts += [snooze_text(s) for s in force.snoozes.get(condition, ())]
    return "; ".join(texts)


def show(rules: RuleSet) -> list[RuleLine]:
    """`ivigwatch rules show`: how far a nurse's limit of each vital may go, and for how long."""
    bounds = rules.patient_limits
    if bounds is None:
        return []
    lines = [
        RuleLine(
            f"patient_limits.{b.vital}.{b.side}",
            "(nurse limit)",
            f"{b.vital} {b.side} limit {b.min:g}-{b.max:g}, at most {bounds.max_limit_hours:g} h",
            "warning, urgent",
            "any",
            b.source,
        )
        for b in bounds.bounds
    ]
    lines.append(
        RuleLine(
            "patient_limits.snooze",
            "(nurse snooze)",
            f"a condition's warning and urgent rows, at most {bounds.max_snooze_hours:g} h",
            "warning, urgent",
            "any",
            bounds.source,
        )
    )
    return lines


register("patient_limits", show_order=15, show=show)
