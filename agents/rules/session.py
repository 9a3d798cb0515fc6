"""The infusion session: phase, baseline, rate history and the recent-history windows."""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from functools import lru_cache

from agents.rules import baseline_windows, minute_index, thinning
from agents.rules.minute_index import extreme_between, reading_ts
from agents.rules.session_columns import stored_columns
from agents.rules.thresholds import fired_before_start
from models import time_column
from models.alerts import Condition
from models.events import Infusion, InfusionAction, Profile, Symptom, Vitals
from models.ruleset import Phase, RuleSet
from models.state import PatientState, RateStep, Reading, SessionState, SymptomReport, TimedValue

HISTORY = timedelta(hours=2)
"""Readings and symptoms older than this (before the newest) are dropped from the windows."""


@lru_cache(maxsize=256)
def span(days: float = 0, hours: float = 0, minutes: float = 0) -> timedelta:
    """`timedelta(...)` of the rule set's few fixed durations, built once: they are on every event's path."""
    return timedelta(days=days, hours=hours, minutes=minutes)


def effective_stop(session: SessionState, rules: RuleSet) -> datetime | None:
    """The stop time, or the implied one: `session_timeout_hours` after the last pump event."""
    if session.stop_ts is not None:
        return session.stop_ts
    if (session.start_ts is None and session.pump_running_ts is None) or session.last_infusion_ts is None:
        return None
    return session.last_infusion_ts + span(hours=rules.timing.session_timeout_hours)


def started_at(session: SessionState) -> datetime | None:
    """When the infusion began: its start event, else the pump's first other event but a status."""
    return session.start_ts if session.start_ts is not None else session.pump_running_ts


def phase_at(session: SessionState, ts: datetime, rules: RuleSet) -> Phase:
    """The session phase at event time `ts` (start inclusive, end exclusive). With no start event, the
    pump's first other event (a rate change, pause, resume or stop) stands for it."""
    start = started_at(session)
    if start is None or ts < start:
        return Phase.PRE
    stop = effective_stop(session, rules)
    if stop is None or ts < stop:
        return Phase.INFUSING
    if ts < stop + span(hours=rules.timing.post_early_hours):
        return Phase.POST_EARLY
    if ts < stop + span(days=rules.timing.post_late_days):
        return Phase.POST_LATE
    return Phase.AFTER


def course_phase(
    state: PatientState, session: SessionState, ts: datetime, rules: RuleSet, phases: tuple[Phase, ...]
) -> Phase:
    """The session's phase at `ts`; for a row that looks back over the patient's course, when that
    is not one of its `phases`, the phase another session of the patient is in at `ts`, if it is
    one of them (day 2's weight before its start is in day 1's post-late)."""
    own = phase_at(session, ts, rules)
    if own in phases:
        return own
    for other in state.sessions.values():
        if other is not session and (phase := phase_at(other, ts, rules)) in phases:
            return phase
    return own


def get_session(state: PatientState, session_id: str, ts: datetime) -> tuple[SessionState, bool]:
    """The session's state, created on its first event; the flag says whether it is new."""
    session = state.sessions.get(session_id)
    if session is None:
        session = SessionState(session_id=session_id, first_ts=ts)
        state.sessions[session_id] = session
        return session, True
    if ts < session.first_ts:
        session.first_ts = ts
    return session, False


def is_high_risk(state: PatientState, rules: RuleSet) -> bool:
    profile = state.profile
    return profile is not None and bool(set(profile.risk_factors) & rules.risk.tightening_factors)


def apply_profile(state: PatientState, profile: Profile) -> bool:
    """Latest wins (by event time); returns False for an older, out-of-order profile."""
    if state.profile is not None and profile.ts < state.profile.ts:
        return False
    state.profile = profile
    return True


def _trim(session: SessionState, newest: datetime) -> None:
    horizon = newest - HISTORY
    dropped = bisect.bisect_left(session.readings, horizon, key=reading_ts)
    if dropped:
        del session.readings[:dropped]
        stored_columns(session, lambda cache: cache.drop_front(dropped))
    time_column.drop_before(session.thinned_out, horizon)
    del session.symptoms[: bisect.bisect_left(session.symptoms, horizon, key=_symptom_ts)]
    minute_index.note_trimmed(session, horizon)
    baseline_windows.note_trimmed(session, horizon)


def _symptom_ts(report: SymptomReport) -> datetime:
    return report.ts


def add_reading(
    state: PatientState,
    session: SessionState,
    vitals: Vitals,
    long_windows: dict[str, float],
) -> set[str]:
    """Insert the reading in event-time order; returns the vitals for which it is the latest.

    Vitals named in `long_windows` (hours) are also kept that long in the patient's long history,
    across sessions (a multi-day course has one session a day).
    """
    reading = Reading(ts=vitals.ts, values=vitals.values(), on_oxygen=vitals.on_oxygen)
    for name, hours in long_windows.items():
        if name in reading.values:
            _add_long(state, name, TimedValue(ts=reading.ts, value=reading.values[name]), hours)
    previous = max(session.latest_ts.values()) if session.latest_ts else None
    position = bisect.bisect_right(session.readings, reading.ts, key=reading_ts)
    session.readings.insert(position, reading)
    if position < len(session.readings) - 1:  # a late reading: the stored columns change from here
        stored_columns(session, lambda cache: cache.cut(position))
    minute_index.note_added(session, reading)
    baseline_windows.note_reading(session, reading)
    latest: set[str] = set()
    for name in reading.values:
        if name not in session.latest_ts or reading.ts >= session.latest_ts[name]:
            session.latest_ts[name] = reading.ts
            latest.add(name)
    if session.last_vitals_ts is None or reading.ts > session.last_vitals_ts:
        session.last_vitals_ts = reading.ts
        session.stale_level = 0
    newest = max(session.latest_ts.values())
    thinning.thin(session, previous, newest)
    _trim(session, newest)
    return latest


def _add_long(state: PatientState, name: str, item: TimedValue, hours: float) -> None:
    """Keep `item` in the patient's history of `name`: the last `hours` before its newest reading, at
    most LONG_HISTORY readings, in time order."""
    history = sorted([*state.long_history.get(name, []), item], key=lambda h: h.ts)
    horizon = history[-1].ts - span(hours=hours)
    state.long_history[name] = [h for h in history if h.ts >= horizon][-LONG_HISTORY:]


LONG_HISTORY = 500
"""At most this many readings of a vital in the patient's long history (daily weights need a few)."""


def window_extreme(
    state: PatientState, name: str, ts: datetime, hours: float, *, lowest: bool
) -> float | None:
    """The lowest (or highest) reading of `name` of the patient in the `hours` before `ts` (the
    reading at `ts` excluded), whichever session it came with."""
    since = ts - span(hours=hours)
    values = [h.value for h in state.long_history.get(name, []) if since <= h.ts < ts]
    if not values:
        return None
    return min(values) if lowest else max(values)


def add_symptom(session: SessionState, symptom: Symptom) -> None:
    report = SymptomReport(
        ts=symptom.ts, symptom=symptom.symptom, severity=symptom.severity, score=symptom.score
    )
    bisect.insort_right(session.symptoms, report, key=_symptom_ts)


def apply_infusion(session: SessionState, event: Infusion) -> None:
    """Update start/stop, pause state and the rate history from a pump or care-team event."""
    ts = event.ts
    if session.last_infusion_ts is None or ts > session.last_infusion_ts:
        session.last_infusion_ts = ts
    action = event.action
    if _running(event) and (session.pump_running_ts is None or ts < session.pump_running_ts):
        session.pump_running_ts = ts
    if action in (InfusionAction.RATE_CHANGE, InfusionAction.RESUME) and _after_stop(session, ts):
        session.stop_ts = None  # the pump ran again after a stop: the infusion goes on
    if action is InfusionAction.START:
        if session.baseline_final and session.start_ts is not None and ts < session.start_ts:
            # frozen from windows around a later start: it may hold readings taken after this one
            session.baseline_unfit = sorted(session.baseline)
        session.start_ts = ts if session.start_ts is None else min(session.start_ts, ts)
        session.rate_ml_per_h = event.rate_ml_per_h
        session.product = event.product or session.product
        session.paused = False
    elif action is InfusionAction.RATE_CHANGE and event.rate_ml_per_h is not None:
        previous = session.rate_ml_per_h
        if previous is not None and event.rate_ml_per_h > previous:
            session.rate_steps.append(
                RateStep(ts=ts, rate_ml_per_h=event.rate_ml_per_h, previous_rate_ml_per_h=previous)
            )
        session.rate_ml_per_h = event.rate_ml_per_h
    elif action is InfusionAction.PAUSE:
        session.paused = True
    elif action is InfusionAction.RESUME:
        session.paused = False
    elif action is InfusionAction.STOP:
        session.quiet.clear()  # a nurse's quiet after a resolution ends at the stop, for good
        # a repeated stop keeps the first one (a resend must not turn the gap back into infusing)
        session.stop_ts = ts if session.stop_ts is None else min(session.stop_ts, ts)
        session.paused = False


def _running(event: Infusion) -> bool:
    """A pump event that says an infusion has been running: any but a start or a status. A pause
    may also be a primed pump before its start, but a lost start with a pause as the first sign of
    a reaction (every urgent action says "pause the infusion") must not leave the session before
    its start for good; a start event that does come decides."""
    return event.action not in (InfusionAction.START, InfusionAction.STATUS)


def _after_stop(session: SessionState, ts: datetime) -> bool:
    return session.stop_ts is not None and ts > session.stop_ts


def baseline(session: SessionState, rules: RuleSet) -> dict[str, float]:
    """Per vital: median of readings in the window before start, else of the first minutes after."""
    if session.baseline_final or session.start_ts is None:
        return session.baseline
    start = session.start_ts
    pre_from = start - span(minutes=rules.timing.baseline_pre_minutes)
    post_to = start + span(minutes=rules.timing.baseline_post_start_minutes)
    windows = baseline_windows.windows_of(session, start, pre_from, post_to)
    result = windows.medians()
    session.baseline = result
    tainted = {
        name for name, values in windows.pre.items() if fired_before_start(rules, name, values[0], values[-1])
    }
    session.baseline_unfit = sorted(tainted.union(windows.after_start()))
    return result


def freeze_baseline_if_due(session: SessionState, now: datetime, rules: RuleSet) -> None:
    """Once the post-start window has passed, the baseline no longer changes."""
    if session.start_ts is None or session.baseline_final:
        return
    if now >= session.start_ts + span(minutes=rules.timing.baseline_post_start_minutes):
        baseline(session, rules)
        session.baseline_final = True
        baseline_windows.forget(session)


def latest_rate_step(session: SessionState, ts: datetime, rules: RuleSet) -> RateStep | None:
    """The last rate increase at or before `ts`, if it lies within the rate-step window."""
    window = span(minutes=rules.timing.rate_step_window_minutes)
    for step in reversed(session.rate_steps):
        if step.ts <= ts:
            return step if ts - step.ts <= window else None
    return None


def _window_start(session: SessionState, ts: datetime, rules: RuleSet, condition: Condition) -> datetime:
    """The together window before `ts`, cut at the condition's last resolution: what a nurse has
    already resolved does not raise the condition again, only a later observation does."""
    since = ts - span(minutes=rules.timing.together_minutes)
    resolved = session.resolved_ts.get(condition.value)
    return since if resolved is None else max(since, resolved + JUST_AFTER)


JUST_AFTER = timedelta(microseconds=1)


def symptoms_together(
    session: SessionState, ts: datetime, rules: RuleSet, condition: Condition
) -> list[SymptomReport]:
    """Symptoms reported within the together window before (or at) `ts`, and after the
    condition's last resolution."""
    since = _window_start(session, ts, rules, condition)
    return [s for s in session.symptoms if since <= s.ts <= ts]


def extreme_together(
    session: SessionState, ts: datetime, rules: RuleSet, condition: Condition, name: str, *, lowest: bool
) -> float | None:
    """The lowest (or highest) reading of vital `name` within the together window before (or at)
    `ts`, and after the condition's last resolution."""
    since = _window_start(session, ts, rules, condition)
    return extreme_between(session, name, since, ts, lowest=lowest)


def fired_together(
    session: SessionState, row_id: str, ts: datetime, rules: RuleSet, condition: Condition
) -> bool:
    """Whether threshold row `row_id` last fired within the together window before `ts`."""
    fired = session.row_last_fired.get(row_id)
    return fired is not None and _window_start(session, ts, rules, condition) <= fired <= ts
