"""Confirming a lone reading before it pages (pure; rule file `[confirmation]`).

A spot reading past a limit that nothing corroborates (no second vital past a limit in the reading
or among the session's confirmed findings of the together window, no symptom reported in that
window, no value beyond an extreme limit) opens a **pending** finding: shown, not paged, and the
patient is asked to measure again. A repeat still past the trigger confirms it (it pages); a repeat
that clears closes it; with no repeat within the delay it pages as unconfirmed. A sample of a
continuous stream confirms once the stream has stayed past the trigger for the alarm delay. A
composite finding (anaphylaxis, NEWS2, ...) whose only evidence is such unconfirmed readings is
pending with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from agents.rules import quiet_state
from agents.rules.lifecycle import OPEN, Finding, apply_finding, close, to_message
from models.alerts import Alert, AlertStatus, Condition, RuleRef
from models.events import Vitals
from models.ruleset import RuleSet
from models.state import AlertState, SessionState


def beyond_extreme(values: dict[str, float], rules: RuleSet) -> bool:
    return any(
        limit.beyond(values[limit.vital]) for limit in rules.confirmation.extreme if limit.vital in values
    )


def corroborated(
    session: SessionState,
    vitals: Vitals,
    condition: Condition,
    own: set[str],
    others: set[str],
    rules: RuleSet,
) -> bool:
    """Something besides this reading's `own` vitals stands behind `condition`: another vital past
    a limit in the same reading (`others`), a confirmed vital finding of another condition within the
    together window, a symptom reported in it, or a spot value beyond an extreme limit. A sample of
    a continuous stream beyond an extreme limit still waits for the alarm delay: the motion and
    probe artefacts a worn oximeter shows read as low as any real desaturation, and monitors apply
    their SpO2 alarm delay to every low alarm (a few seconds, far inside the 5 minutes to a page)."""
    spot = vitals.mode != "continuous"
    if others - own or (
        spot and beyond_extreme({v: x for v, x in vitals.values().items() if v in own}, rules)
    ):
        return True
    window = timedelta(minutes=rules.timing.together_minutes)
    if any(abs(s.ts - vitals.ts) <= window for s in session.symptoms):
        return True
    if session.quiet and quiet_state.holding(session, vitals.ts, rules, but=condition):
        return True  # a condition a nurse resolved as not needed still holds: it corroborates
    return any(
        a.condition is not condition
        and a.status in OPEN
        and not a.pending
        and a.raised_by_vitals
        and abs(a.opened_ts - vitals.ts) <= window
        and set(a.evidence.values) - own
        for a in session.alerts.values()
    )


def decide(
    session: SessionState, vitals: Vitals, found: Finding, own: set[str], lone: bool, rules: RuleSet
) -> Finding:
    """The finding a reading makes, pending or not: a new lone one waits; a repeat of a pending one
    confirms it (a continuous stream only once past the trigger for the alarm delay)."""
    current = session.alerts.get(found.condition.value)
    if current is not None and current.status in OPEN and current.pending:
        if found.severity.rank < current.severity.rank and not lone_again(current, own):
            lower(current, found, rules)
        if vitals.mode == "continuous":
            held = vitals.ts - current.opened_ts >= timedelta(seconds=rules.confirmation.alarm_delay_seconds)
            if held and not lone_again(current, own):
                return found
            own_due = vitals.ts + timedelta(minutes=rules.confirmation.delay_for(found.severity))
            return replace(found, pending=True, confirm_due=min(own_due, current.confirm_due or own_due))
        return found
    if current is None and lone:
        due = vitals.ts + timedelta(minutes=rules.confirmation.delay_for(found.severity))
        return replace(found, pending=True, confirm_due=due)
    return found


def lower(current: AlertState, found: Finding, rules: RuleSet) -> None:
    """A repeat (or a later sample of the stream) of a pending finding's vitals is past a lower
    limit only: the finding now stands on that lower row (a lone SpO2 88 repeated at 92 is a
    warning, not an urgent low oxygen), and is confirmed or still waits at its severity."""
    current.severity = found.severity
    current.title, current.action, current.evidence = found.title, found.action, found.evidence
    current.rule = RuleRef(id=found.rule_id, version=rules.version)


def lone_again(current: AlertState, own: set[str]) -> bool:
    """A continuous sample of other vitals than the pending finding's own does not confirm it."""
    return not (set(current.evidence.values) & own)


def abnormal_vitals(session: SessionState, rules: RuleSet) -> tuple[set[str], set[str]]:
    """(waiting, confirmed): the vitals past a limit whose only evidence is a pending lone reading,
    and those a confirmed finding of a threshold row stands behind (a composite's alert lists every
    vital it read, abnormal or not: it is no evidence that one of them is past a limit)."""
    pending = {  # lone readings only (a set of vitals within its grace is pending too, with no deadline)
        v
        for a in session.alerts.values()
        if a.status in OPEN and a.pending and a.confirm_due is not None
        for v in a.evidence.values
    }
    confirmed = {
        v
        for a in session.alerts.values()
        if a.status in OPEN and not a.pending and a.rule.id in rules.threshold_ids
        for v in a.evidence.values
    }
    return pending - confirmed, confirmed


def composite(session: SessionState, found: Finding, rules: RuleSet) -> Finding:
    """A composite finding with no symptom behind it, whose abnormal vitals (those past a limit of
    a threshold row) rest only on unconfirmed readings, waits with them (until their earliest
    confirmation time). The other vitals it lists (a NEWS2 score reads every vital) do not count:
    only a second vital past a limit corroborates."""
    waiting, confirmed = abnormal_vitals(session, rules)
    vitals = set(found.evidence.values) & (waiting | confirmed)
    if found.evidence.symptoms or not vitals or not vitals <= waiting:
        return found
    current = session.alerts.get(found.condition.value)
    if current is not None and current.status in OPEN and not current.pending:
        return found
    dues = [
        a.confirm_due
        for a in session.alerts.values()
        if a.pending and a.confirm_due is not None and set(a.evidence.values) & vitals
    ]
    if not dues:
        return found
    own_due = found.ts + timedelta(minutes=rules.confirmation.delay_for(found.severity))
    return replace(found, pending=True, confirm_due=min(*dues, own_due))


def cleared(
    session: SessionState, clear: Iterable[str], ts: datetime, patient_id: str, rules: RuleSet
) -> list[Alert]:
    """A repeat reading clears these vitals: every pending finding made only of them closes now
    (resolved, no page), and so does a pending composite that waited on them and on nothing still
    past a limit (a NEWS2 score lists every vital it read: only its abnormal ones count)."""
    if not session.alerts:
        return []  # (on almost every reading)
    clear = set(clear)
    messages: list[Alert] = []

    def close_now(key: str, current: AlertState) -> None:
        current.status = AlertStatus.RESOLVED
        close(session, key, ts)
        messages.append(to_message(current, patient_id, session.session_id, ts))

    for key, current in list(session.alerts.items()):
        vitals = set(current.evidence.values)
        if _waiting(current, ts) and vitals and vitals <= clear:
            close_now(key, current)
    still = {
        v
        for a in session.alerts.values()
        if a.status in OPEN and a.rule.id in rules.threshold_ids
        for v in a.evidence.values
    }
    for key, current in list(session.alerts.items()):
        vitals = set(current.evidence.values)
        composite = current.rule.id not in rules.threshold_ids
        if composite and _waiting(current, ts) and vitals & clear and not vitals & still:
            close_now(key, current)
    return messages


def trigger_cleared(
    session: SessionState, condition: Condition, ts: datetime, patient_id: str
) -> list[Alert]:
    """The condition's own trigger is false at the observation at `ts`: if its alert is a pending
    lone finding, it closes now (resolved, no page), even when a vital it lists is still past
    another condition's limit (which keeps `cleared` from closing it)."""
    current = session.alerts.get(condition.value)
    if current is None or not _waiting(current, ts):
        return []
    current.status = AlertStatus.RESOLVED
    close(session, condition.value, ts)
    return [to_message(current, patient_id, session.session_id, ts)]


def _waiting(current: AlertState, ts: datetime) -> bool:
    """A pending lone finding (not a set within its grace), opened by `ts`."""
    return (
        current.pending
        and current.confirm_due is not None
        and current.status in OPEN
        and ts >= current.opened_ts
    )


def due(session: SessionState, now: datetime, patient_id: str, rules: RuleSet) -> list[Alert]:
    """Pending findings whose repeat did not come in time: they page now, as unconfirmed."""
    messages: list[Alert] = []
    for current in list(session.alerts.values()):
        if not current.pending or current.confirm_due is None or current.confirm_due > now:
            continue
        minutes = rules.confirmation.delay_for(current.severity)
        if current.status is not AlertStatus.FIRING:  # a nurse acknowledged it meanwhile
            current.pending, current.confirm_due = False, None
            continue
        at = current.confirm_due
        summary = f"{current.evidence.summary}; unconfirmed: no repeat reading within {minutes:g} min"
        finding = Finding(
            condition=current.condition,
            severity=current.severity,
            rule_id=current.rule.id,
            title=f"Unconfirmed: {current.title}"[:120],
            action=current.action,
            evidence=current.evidence.model_copy(update={"summary": summary}),
            ts=at,
            from_vitals=current.raised_by_vitals,
            unconfirmed=True,
        )
        if (message := apply_finding(session, finding, patient_id, rules)) is not None:
            messages.append(message)
    messages.sort(key=lambda m: m.ts)
    return messages


def next_due(session: SessionState) -> datetime | None:
    dues = [a.confirm_due for a in session.alerts.values() if a.pending and a.confirm_due is not None]
    return min(dues, default=None)
