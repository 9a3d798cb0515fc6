"""Check-ins after the infusion (issue 15 part 3): the questions for the delayed events of IVIG,
asked at the rule file's hours after the last stop of a course, as rules-engine timers.

Pure, like the care schedule: a session's check-ins are computed from its stop (or implied stop)
and the `[checkin]` rows; a later start of the patient (the next infusion of a course) ends the
earlier session's check-ins, and the later session asks its own after its stop. For each check-in
not answered (an answer timed at or after its due time less `early_minutes` counts):
- at its due time, the prompt goes to the patient (`checkin` message with the questions);
- `remind_after_minutes` later, a reminder to the patient;
- `missed_after_minutes` later, one `missed_checkin` warning for the nurse. While that alert is
  open, a later missed check-in only adds to its evidence (no second page); an answer resolves it.
Prompts and reminders go through the state's outbox (the patient channel sends them); the state
keeps only the latest answer and the last step taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from agents.rules.explain import evidence
from agents.rules.lifecycle import Finding, apply_finding, close, to_message
from agents.rules.memo import remembered
from agents.rules.outbox import post
from agents.rules.registry import RuleLine, register
from agents.rules.session import effective_stop, phase_at, span
from models.alerts import Alert, AlertStatus, Condition, RuleRef
from models.events import Checkin
from models.patient_messages import PatientMessage, PatientMessageKind, PatientQuestion
from models.ruleset import RuleSet
from models.state import PatientState, SessionState


@dataclass(frozen=True, slots=True)
class DueCheckin:
    """One check-in the rules ask for."""

    checkin_id: str
    day: int
    hours: float
    """Hours after the stop."""
    due: datetime
    counts_from: datetime
    remind: datetime
    missed: datetime

    def answered(self, last: datetime | None) -> bool:
        return last is not None and last >= self.counts_from


class StepKind(Enum):
    PROMPT = "prompt"
    REMINDER = "reminder"
    MISSED = "missed"


def cutoff(state: PatientState, session: SessionState) -> datetime | None:
    """When a later start of the patient ended this session's check-ins (None: none has)."""
    if session.start_ts is None:
        return None
    later = [
        other.start_ts
        for other in state.sessions.values()
        if other is not session and other.start_ts is not None and other.start_ts > session.start_ts
    ]
    if session.checkin_until is not None:
        later.append(session.checkin_until)
    return min(later, default=None)


def note_start(state: PatientState, started: SessionState) -> None:
    """A session started: the check-ins of the patient's earlier sessions end at its start."""
    start = started.start_ts
    for other in state.sessions.values():
        if (
            other is not started
            and other.start_ts is not None
            and start is not None
            and other.start_ts < start
        ):
            until = other.checkin_until
            other.checkin_until = start if until is None else min(until, start)


def due_checkins(state: PatientState, session: SessionState, rules: RuleSet) -> tuple[DueCheckin, ...]:
    """The session's check-ins, in due order: none before its stop, none from a later start on."""
    if session.start_ts is None:
        return ()
    stop = effective_stop(session, rules)
    if stop is None:
        return ()
    ended = cutoff(state, session)
    rule = rules.checkin
    out: list[DueCheckin] = []
    for hours in rule.due_hours():
        due = stop + span(hours=hours)
        if ended is not None and due >= ended:
            break
        day = max(1, math.ceil(hours / 24))
        out.append(
            DueCheckin(
                checkin_id=f"{session.session_id}:checkin:{hours:g}h",
                day=day,
                hours=hours,
                due=due,
                counts_from=due - span(minutes=rule.early_minutes),
                remind=due + span(minutes=rule.remind_after_minutes),
                missed=due + span(minutes=rule.missed_after_minutes),
            )
        )
    return tuple(out)


def _steps(
    state: PatientState, session: SessionState, rules: RuleSet
) -> list[tuple[datetime, StepKind, DueCheckin]]:
    """The steps not taken yet of the check-ins not answered, in time order."""
    last = session.checkin_answered_ts
    taken = session.checkin_step_ts
    ended = cutoff(state, session)
    steps = [
        (at, kind, item)
        for item in due_checkins(state, session, rules)
        if not item.answered(last)
        for at, kind in (
            (item.due, StepKind.PROMPT),
            (item.remind, StepKind.REMINDER),
            (item.missed, StepKind.MISSED),
        )
        if (taken is None or at > taken) and (ended is None or at < ended)  # none once the next starts
    ]
    steps.sort(key=lambda s: (s[0], s[2].due))
    return steps


def _window_end(session: SessionState, rules: RuleSet) -> datetime | None:
    """When an open missed-check-in warning closes by itself: the end of post-late (nothing more
    is asked then, and the session may be dropped)."""
    stop = effective_stop(session, rules)
    if stop is None or Condition.MISSED_CHECKIN.value not in session.alerts:
        return None
    return stop + span(days=rules.timing.post_late_days)


def next_step(state: PatientState, session: SessionState, rules: RuleSet) -> datetime | None:
    """When the session's next check-in step falls due (None: nothing left to ask). Asked at every
    event and tick, it changes only with the stop, a later start, an answer, a step taken or the
    missed warning's opening or closing: remembered per session."""
    key = (
        effective_stop(session, rules),
        cutoff(state, session),
        session.checkin_answered_ts,
        session.checkin_step_ts,
        Condition.MISSED_CHECKIN.value in session.alerts,
    )
    return remembered(session, "checkin_next_step", key, rules, lambda: _next_step(state, session, rules))


def _next_step(state: PatientState, session: SessionState, rules: RuleSet) -> datetime | None:
    stop = effective_stop(session, rules)
    if session.start_ts is None or stop is None:
        return None
    if (
        session.checkin_answered_ts is None
        and session.checkin_step_ts is None
        and Condition.MISSED_CHECKIN.value not in session.alerts
    ):  # nothing asked yet (every infusing session): the first check-in's prompt, unless a start ends it
        hours = rules.checkin.due_hours()
        first = stop + span(hours=hours[0]) if hours else None
        ended = cutoff(state, session)
        return None if first is None or (ended is not None and first >= ended) else first
    steps = _steps(state, session, rules)
    candidates = [steps[0][0]] if steps else []
    if (end := _window_end(session, rules)) is not None:
        candidates.append(end)
    return min(candidates, default=None)


def due(state: PatientState, session: SessionState, now: datetime, rules: RuleSet) -> list[Alert]:
    """Take every check-in step due by `now`, in order: prompts and reminders into the outbox, the
    missed warnings as alert messages."""
    stop = effective_stop(session, rules)
    if stop is None or now < stop + _first_step_after_stop(rules):
        return []  # (on every event of an infusion: no schedule to build)
    upcoming = next_step(state, session, rules)
    if upcoming is None or upcoming > now:
        return []
    messages: list[Alert] = []
    for at, kind, item in _steps(state, session, rules):
        if at > now:
            break
        session.checkin_step_ts = at
        if kind is StepKind.MISSED:
            messages.extend(_missed(state, session, item, rules))
        else:
            post(state, _prompt(state, session, item, kind is StepKind.REMINDER, rules))
    end = _window_end(session, rules)
    if end is not None and end <= now:
        messages.extend(_close(state, session, end, "the check-in window after the infusion has ended"))
    return messages


def _first_step_after_stop(rules: RuleSet) -> timedelta:
    """The earliest a check-in step or the check-in window's end can fall after the stop."""
    first = min(rules.checkin.due_hours(), default=rules.timing.post_late_days * 24)
    return span(hours=min(first, rules.timing.post_late_days * 24))


def _close(state: PatientState, session: SessionState, ts: datetime, note: str) -> list[Alert]:
    current = session.alerts.get(Condition.MISSED_CHECKIN.value)
    if current is None:
        return []
    ts = max(ts, current.opened_ts)
    current.status = AlertStatus.RESOLVED
    close(session, Condition.MISSED_CHECKIN.value, ts)
    return [to_message(current, state.patient_id, session.session_id, ts, note=note)]


def answer(state: PatientState, session: SessionState, item: Checkin, rules: RuleSet) -> list[Alert]:
    """A check-in was answered: it counts for every check-in due by then. An open missed-check-in
    warning resolves once every check-in it warned about is answered (a late upload of an older
    answer does not answer a later check-in); its answers are evaluated as ordinary events afterwards."""
    last = session.checkin_answered_ts
    session.checkin_answered_ts = item.ts if last is None else max(last, item.ts)
    taken = session.checkin_step_ts
    warned = [c for c in due_checkins(state, session, rules) if taken is not None and c.missed <= taken]
    if not all(c.answered(session.checkin_answered_ts) for c in warned):
        return []
    return _close(state, session, item.ts, "check-in answered")


def _missed(state: PatientState, session: SessionState, item: DueCheckin, rules: RuleSet) -> list[Alert]:
    rule = rules.checkin
    phase = phase_at(session, item.missed, rules)
    current = session.alerts.get(Condition.MISSED_CHECKIN.value)
    summary = (
        f"The day-{item.day} check-in (due {item.due:%Y-%m-%d %H:%M} UTC) was not answered "
        f"{rule.missed_after_minutes:g} min after it was asked; the patient was reminded after "
        f"{rule.remind_after_minutes:g} min"
    )
    if current is not None:
        earlier = current.evidence.summary.split("; also ")[0]
        if current.severity.rank >= rule.severity.rank:
            # still open: one warning per episode of silence, not one per day
            current.evidence = evidence(session, item.missed, phase, rules, f"{earlier}; also {summary}")
            return []
        # a later check-in missed, and now the next one too: two in a row
        summary = f"{earlier}; also {summary}: two check-ins in a row not answered"
    later = rule.later_after_hours is not None and item.hours > rule.later_after_hours
    finding = Finding(
        condition=Condition.MISSED_CHECKIN,
        severity=rule.later_severity if later and current is None else rule.severity,
        rule_id=rule.id,
        title=rule.title.format(day=item.day),
        action=rule.action,
        evidence=evidence(session, item.missed, phase, rules, summary),
        ts=item.missed,
        from_vitals=False,
    )
    message = apply_finding(session, finding, state.patient_id, rules)
    return [message] if message else []


def _questions(rules: RuleSet) -> list[PatientQuestion]:
    return [
        PatientQuestion(id=q.id, text=q.text, symptom=q.symptom, graded=q.graded, vital=q.vital)
        for q in rules.checkin.question
    ]


def _prompt(
    state: PatientState, session: SessionState, item: DueCheckin, reminder: bool, rules: RuleSet
) -> PatientMessage:
    at = item.remind if reminder else item.due
    template = rules.checkin.reminder if reminder else rules.checkin.prompt
    return PatientMessage(
        message_id=f"{item.checkin_id}:{'reminder' if reminder else 'prompt'}",
        patient_id=state.patient_id,
        session_id=session.session_id,
        kind=PatientMessageKind.CHECKIN,
        ts=at,
        text=template.format(day=item.day),
        checkin_id=item.checkin_id,
        checkin_day=item.day,
        questions=_questions(rules),
        reminder=reminder,
        rule=RuleRef(id=rules.checkin.id, version=rules.version),
    )


def show(rules: RuleSet) -> list[RuleLine]:
    rule = rules.checkin
    hours = ", ".join(f"+{h:g} h" for h in rule.due_hours())
    trigger = (
        f"check-ins at {hours} after the stop (a later start ends them); the patient is reminded "
        f"{rule.remind_after_minutes:g} min after, the nurse warned {rule.missed_after_minutes:g} min after"
    )
    return [
        RuleLine(
            rule.id,
            Condition.MISSED_CHECKIN.value,
            trigger,
            rule.severity.value,
            "after the stop",
            rule.source,
        )
    ]


register("checkin", show_order=100, show=show)
