"""The rule engine: one patient's state, one event or nurse action, a clock -> alert messages.

Pure and deterministic: no I/O and no clock reads (`now` is an argument). The live agents and
`ivigwatch replay` both call `process` and `advance`, so they agree on the same events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from agents.rules import (
    checkins,
    confirmation,
    high_risk,
    incidents,
    patient_limits,
    readiness,
    resolve_quiet,
    seen_ids,
    timers,
    vitals_schedule,
)
from agents.rules.context import RuleContext
from agents.rules.episodes import end_episode, note_fired
from agents.rules.explain import finding
from agents.rules.lifecycle import OPEN, Finding, apply_finding, mark_cleared
from agents.rules.minute_index import readings_between
from agents.rules.registry import composites
from agents.rules.session import (
    add_reading,
    add_symptom,
    apply_infusion,
    apply_profile,
    baseline,
    course_phase,
    get_session,
    is_high_risk,
    phase_at,
    started_at,
    window_extreme,
)
from agents.rules.thresholds import RowResult, evaluate_row, limits_text
from models import time_column
from models.alerts import Alert, Condition
from models.events import (
    SETTING_TYPES,
    Checkin,
    Event,
    Infusion,
    InfusionAction,
    MessageSeen,
    NurseAction,
    Profile,
    Readiness,
    Symptom,
    Vitals,
)
from models.ruleset import Phase, RuleSet, ThresholdRule
from models.state import PatientState, SessionState

CLOSED_SESSIONS = 64
"""How many dropped session ids per patient are remembered, so their late events are ignored."""

UNITS = {
    "heart_rate": "/min",
    "systolic_bp": " mmHg",
    "diastolic_bp": " mmHg",
    "temperature_c": " C",
    "respiratory_rate": "/min",
    "spo2": "%",
    "weight_kg": " kg",
}


def new_state(patient_id: str) -> PatientState:
    return PatientState(patient_id=patient_id)


def advance(state: PatientState, now: datetime, rules: RuleSet) -> list[Alert]:
    """Move the patient's clock to `now`: fire every timer due by then, in due-time order.

    A session past its post-late phase at `now` with no open alert is then dropped (and its id
    remembered, so a late event of it is ignored rather than starting it afresh).
    """
    if state.clock is not None and now <= state.clock:
        return []
    state.clock = now
    if timers.quiet_before(state, now, rules):
        return []
    timers.forget_next_due(state)
    messages: list[Alert] = []
    for session_id, session in list(state.sessions.items()):
        messages.extend(timers.due(state, session, now, rules))
        messages.extend(confirmation.due(session, now, state.patient_id, rules))
        if not session.alerts and (
            phase_at(session, now, rules) is Phase.AFTER or _never_started(session, now, rules)
        ):
            del state.sessions[session_id]
            state.closed_sessions = [*state.closed_sessions[-(CLOSED_SESSIONS - 1) :], session_id]
    return incidents.settle(state, messages, now, rules)


def _never_started(session: SessionState, now: datetime, rules: RuleSet) -> bool:
    """A session that never started (a readiness check, readings before a start that never came)
    is over `post_late_days` after its first event."""
    return started_at(session) is None and now >= session.first_ts + timedelta(
        days=rules.timing.post_late_days
    )


def process(state: PatientState, item: Event | NurseAction, now: datetime, rules: RuleSet) -> list[Alert]:
    """Apply one event or nurse action at clock `now`; returns the alert messages it causes."""
    messages = advance(state, now, rules)
    timers.forget_next_due(state)
    if isinstance(item, NurseAction):
        if item.type in SETTING_TYPES:  # a limit or snooze of the patient's: no alert changes now
            patient_limits.apply(state, item, rules)
        else:
            messages += incidents.apply_action(state, item, rules)
        timers.remember_next_due(state, rules)
        return messages
    found = _event(state, item, now, rules)  # remembers the next due time at its end (`_now_due`)
    settled = incidents.settle(state, found, now, rules)
    if found or settled or not timers.remembered_next_due(state, rules):
        timers.remember_next_due(state, rules)  # the incidents changed since, or nothing was remembered
    return messages + settled


def _event(state: PatientState, item: Event, now: datetime, rules: RuleSet) -> list[Alert]:
    """The alert messages of one event's findings, before they are attached to incidents."""
    if item.event_id is not None and not seen_ids.first_time(state, item.event_id):
        return []
    if isinstance(item, Profile):
        apply_profile(state, item)  # risk factors may bring stale-data limits forward
        return _now_due(state, now, rules)
    if isinstance(item, MessageSeen):  # the nurse sees it in the incident; nothing else changes
        return incidents.patient_saw(state, item.incident_id, item.ts, rules)
    if isinstance(item, Readiness):  # before a start: the named session, else the day's readiness
        named = item.session_id
        own = (
            named if named is not None and named not in state.closed_sessions else readiness.day_session(item)
        )
        ready, _new = get_session(state, own, item.ts)
        return readiness.answer(state, ready, item, rules) + _now_due(state, now, rules)
    if item.session_id in state.closed_sessions:
        return []
    session, _new = get_session(state, item.session_id, item.ts)
    if isinstance(item, Checkin):  # answered; its answers are ordinary symptom and vitals events
        answered = checkins.answer(state, session, item, rules)
        return answered + [m for event in item.answer_events() for m in _event(state, event, now, rules)]
    is_start = isinstance(item, Infusion) and item.action is InfusionAction.START
    if isinstance(item, Infusion):
        apply_infusion(session, item)
        if is_start:
            checkins.note_start(state, session)
    checks = high_risk.at_event(state, session, item.ts, is_start, rules)
    messages = _apply(state, session, [checks], rules)
    if isinstance(item, Vitals):
        messages.extend(_vitals(state, session, item, rules))
    elif isinstance(item, Symptom):
        add_symptom(session, item)
    for ts in _evaluation_times(session, item.ts, rules):
        messages.extend(_composites(state, session, ts, rules))
    return messages + _now_due(state, now, rules)


def _now_due(state: PatientState, now: datetime, rules: RuleSet) -> list[Alert]:
    """Timers that an event has just made due by `now` (a start or stop arriving late, a profile
    that halves the stale limits): they fire at once, not at the next tick. None can be when the
    state's next due time is later (`advance` before it only moves the clock) and no overdue alert
    waits on vitals that arrived late (they close it at once, at no due time)."""
    due = timers.remember_next_due(state, rules)
    if (due is None or now < due) and not any(
        map(vitals_schedule.late_vitals_may_close, state.sessions.values())
    ):
        return []
    timers.forget_next_due(state)  # the timers below change the state
    messages = [m for session in state.sessions.values() for m in timers.due(state, session, now, rules)]
    for session in state.sessions.values():  # a lone reading that arrived after its repeat was due
        messages.extend(confirmation.due(session, now, state.patient_id, rules))
    messages.sort(key=lambda m: m.ts)
    return messages


def _evaluation_times(session: SessionState, ts: datetime, rules: RuleSet) -> list[datetime]:
    """`ts`, then the times of the session's later reports and readings within the together
    window (those thinning dropped too): an event that arrives late may complete a reaction with
    one already seen."""
    until = ts + timedelta(minutes=rules.timing.together_minutes)
    later = {r.ts for r in readings_between(session, ts, until) if r.ts > ts}
    later.update(time_column.between(session.thinned_out, ts, until))  # readings thinning dropped
    later |= {s.ts for s in session.symptoms if ts < s.ts <= until}
    return [ts, *sorted(later)]


def describe(results: list[RowResult], factor: float) -> str:
    """Each vital once, with its baseline and change, then the limits it crossed."""
    by_vital: dict[str, list[RowResult]] = defaultdict(list)
    for result in results:
        by_vital[result.rule.vital].append(result)
    texts = []
    for vital, rows in by_vital.items():
        first, unit = rows[0], UNITS[vital]
        label = vital.replace("_c", "").replace("_bp", " BP").replace("_", " ").replace("spo2", "SpO2")
        text = f"{label} {first.value:g}{unit}"
        if first.baseline is not None:
            text += f", baseline {first.baseline:g}{unit} ({first.value - first.baseline:+.3g})"
        limits = "; ".join(
            f"{limits_text(r.rule, factor if r.rule.tightened else 1.0)} ({r.rule.id})" for r in rows
        )
        texts.append(f"{text}; limits crossed: {limits}")
    if factor != 1.0:
        texts.append(f"baseline-relative limits x{factor:g} for a high-risk patient")
    return "; ".join(texts)


def _compare_with(
    rule: ThresholdRule,
    state: PatientState,
    session: SessionState,
    vitals: Vitals,
    base: dict[str, float],
    phase: Phase,
) -> float | None:
    """What a row's relative clauses compare with: the baseline, or for a windowed row the lowest
    (rise) or highest (fall) reading of the vital in its window, across the patient's sessions. A
    `baseline_before_start` row has none for a reading before the start (the baseline is made of
    such readings, this one perhaps among them), when the baseline came from after the start, when
    a reading it is made of fired such a row before the start (`baseline_unfit`), or while the
    condition's episode from before the start is open (its readings hold it within the margin)."""
    if rule.window_hours is None:
        if rule.baseline_before_start and _baseline_unfit(session, rule, phase):
            return None
        return base.get(rule.vital)
    lowest = rule.rise_at_least is not None
    return window_extreme(state, rule.vital, vitals.ts, rule.window_hours, lowest=lowest)


def _baseline_unfit(session: SessionState, rule: ThresholdRule, phase: Phase) -> bool:
    if phase is Phase.PRE or rule.vital in session.baseline_unfit:
        return True
    alert = session.alerts.get(rule.condition.value)  # an episode from before the start, still open
    start = started_at(session)
    return alert is not None and alert.status in OPEN and start is not None and alert.opened_ts < start


def _vitals(state: PatientState, session: SessionState, vitals: Vitals, rules: RuleSet) -> list[Alert]:
    messages: list[Alert] = []
    stale = session.alerts.get(Condition.STALE_DATA.value)
    latest = add_reading(state, session, vitals, rules.window_hours)
    if stale is not None and vitals.ts >= stale.opened_ts:
        messages.extend(timers.resolve_stale(state, session, vitals.ts))
    base = baseline(session, rules)
    phase = phase_at(session, vitals.ts, rules)
    high_factor = rules.risk.relative_limit_factor if is_high_risk(state, rules) else 1.0
    firing: dict[Condition, list[RowResult]] = defaultdict(list)
    touched: set[Condition] = set()
    force = patient_limits.in_force(state, vitals.ts)
    abnormal: set[str] = set()
    measured = vitals.values()
    for name, value in measured.items():
        margin = rules.hysteresis.for_vital(name)
        is_latest = name in latest
        for rule in rules.rows_by_vital[name]:
            result = evaluate_row(
                rule,
                value,
                _compare_with(rule, state, session, vitals, base, phase),
                phase
                if rule.window_hours is None
                else course_phase(state, session, vitals.ts, rules, rule.phases),
                margin=margin,
                relative_factor=high_factor if rule.tightened else 1.0,
            )
            unlimited = result
            if force is not None:
                result = patient_limits.adjust(result, force, margin, rules)
            if session.quiet:
                result = resolve_quiet.adjust(session, result, vitals.ts, rules)
            if is_latest:
                session.row_holding[rule.id] = result.holds
                touched.add(rule.condition)
            if not unlimited.fires:
                continue
            resolved = session.resolved_ts.get(rule.condition.value)
            if resolved is None or vitals.ts > resolved:
                # a vital past the rule file's row corroborates others' findings, whatever a
                # patient's own limit says of its own row (a limit never delays another page)
                abnormal.add(rule.vital)
                if result.fires:
                    session.row_last_fired[rule.id] = vitals.ts
                    firing[rule.condition].append(result)
    for condition, results in firing.items():
        worst = max(results, key=lambda r: r.rule.severity.rank)
        factor = high_factor if any(r.rule.tightened and r.rule.relative for r in results) else 1.0
        found = finding(
            condition,
            worst.rule.severity,
            worst.rule.id,
            worst.rule.title,
            worst.rule.action,
            RuleContext(state, session, vitals.ts, phase, rules),
            "; ".join(
                filter(None, [describe(results, factor), patient_limits.evidence(force, condition, results)])
            ),
            values={r.rule.vital: r.value for r in results},
            baseline={r.rule.vital: r.baseline for r in results if r.baseline is not None},
            from_vitals=True,
        )
        own = {r.rule.vital for r in results}
        lone = not confirmation.corroborated(session, vitals, condition, own, abnormal, rules)
        found = confirmation.decide(session, vitals, found, own, lone, rules)
        message = apply_finding(session, found, state.patient_id, rules)
        if message:
            messages.append(message)
        if not any(r.rule.vital in latest for r in results):
            _clear_if_newer_readings_clear(session, condition, results, rules)
            current = session.alerts.get(condition.value)
            if current is not None and current.pending and current.clear_since is not None:
                # a late lone reading whose repeat (a newer reading) already clears it: closed
                messages.extend(confirmation.cleared(session, own, vitals.ts, state.patient_id, rules))
    for condition in touched - set(firing):
        rows = rules.rows_by_condition[condition]
        if not any(session.row_holding.get(row.id, False) for row in rows):
            # a pending lone finding closes at this repeat, though another condition's row may
            # still hold on the same vital (a systolic 75 after a lone 175)
            messages.extend(confirmation.trigger_cleared(session, condition, vitals.ts, state.patient_id))
            mark_cleared(session, condition, vitals.ts)
        elif (current := session.alerts.get(condition.value)) is not None:
            current.clear_since = None
    clear = {
        name
        for name in measured
        if name in latest
        and not any(session.row_holding.get(row.id, False) for row in rules.rows_by_vital[name])
    }
    # A repeat decides a pending lone finding on the rows' own limits: a repeat that fires no row
    # of its vital does not confirm it, so it closes it (the hysteresis margin keeps an alert that
    # was confirmed from flickering; it does not turn a repeat back inside the limit into a page).
    not_past = {name for name in measured if name in latest and name not in abnormal}
    messages.extend(confirmation.cleared(session, clear | not_past, vitals.ts, state.patient_id, rules))
    return messages


def _clear_if_newer_readings_clear(
    session: SessionState, condition: Condition, results: list[RowResult], rules: RuleSet
) -> None:
    """A late reading fired `condition`, but newer readings of its vitals already clear every row:
    the trigger has been false since the newest of them, so the resolution clock starts there."""
    if any(session.row_holding.get(row.id, False) for row in rules.rows_by_condition[condition]):
        return
    newest = max(session.latest_ts[r.rule.vital] for r in results)
    mark_cleared(session, condition, newest)


def _composites(state: PatientState, session: SessionState, ts: datetime, rules: RuleSet) -> list[Alert]:
    """Every registered composite rule at `ts`: all are evaluated on the session as it is, then
    their findings are applied in registration order, then their resolution signals."""
    ctx = RuleContext(state, session, ts, phase_at(session, ts, rules), rules)
    evaluations = [evaluate(ctx) for evaluate in composites()]
    findings = [confirmation.composite(session, found, rules) for e in evaluations for found in e.findings]
    messages = [  # an open alert of an earlier episode is resolved: the new episode opens a new alert
        m
        for e in evaluations
        for condition, last in e.new_episode.items()
        if (m := end_episode(state, session, condition, last, ts))
    ]
    messages += _apply(state, session, findings, rules)
    note_fired(session, findings)
    for evaluation in evaluations:
        for condition, holds in evaluation.resolution.items():
            if not holds:
                messages += confirmation.trigger_cleared(session, condition, ts, state.patient_id)
                mark_cleared(session, condition, ts)
            elif (current := session.alerts.get(condition.value)) is not None:
                current.clear_since = None
    return messages


def _apply(
    state: PatientState, session: SessionState, findings: Sequence[Finding | None], rules: RuleSet
) -> list[Alert]:
    messages = [apply_finding(session, finding, state.patient_id, rules) for finding in findings if finding]
    return [m for m in messages if m is not None]
