"""Drive the rule engine through simulated sessions exactly as replay does, answering its messages.

One session at a time (patients are independent): a heap of pending events keyed by arrival time.
Planned events arrive; the engine's timers fire at their due times (`next_due`, as replay's heap);
after every step the engine's messages are read, and the patient's repeat readings (asked for on
the patient channel: `repeat_requests`), the nurse's acknowledgements of pages and the resolutions
of the incidents acknowledged become new events on the heap.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agents.rules.engine import advance, new_state, process
from agents.rules.patient_channel import to_patient
from agents.rules.timers import next_due
from models.alerts import Alert
from models.events import Checkin, NurseAction, Outcome, SymptomAnswer
from models.patient_messages import PatientMessageKind
from models.ruleset import RuleSet
from streams.apps.cohort.nurse_limits import session_limits, snooze_after_ack
from streams.apps.cohort.paging import is_page
from streams.apps.cohort.responses import (
    NURSE_ID,
    RepeatRequest,
    ack_delay,
    checkin_delay,
    devices_for,
    repeat_delay,
    repeat_requests,
    resolve_delay,
)
from streams.apps.cohort.serious_events import Kind
from streams.apps.cohort.session_plan import Planned, SessionPlan, plan_session, session_rng
from streams.apps.scenarios import Device

RepeatHook = Callable[[Sequence[object]], list[RepeatRequest]]
TIMER_NUDGE = timedelta(seconds=1)
"""A timer the engine reports as already due is tried again this much later."""


@dataclass(frozen=True, slots=True)
class Emitted:
    """An alert message and the rules' clock when it came out (the page time)."""

    alert: Alert
    at: datetime


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """What one session gave: its alert messages, and what the counting needs about it."""

    index: int
    session_id: str
    start: datetime
    stop: datetime
    infusion_hours: float
    kind: Kind | None
    detail: str
    onset: datetime | None
    evidence: datetime | None
    """The first evidence of the serious event that reached the rules (None: none did)."""
    emitted: tuple[Emitted, ...]
    repeated_at: tuple[datetime, ...]
    """When the patient took each repeat reading the rules asked for."""
    acks: int
    headache: bool


@dataclass(frozen=True, slots=True)
class _Deliver:
    planned: Planned


@dataclass(frozen=True, slots=True)
class _Tick:
    pass


@dataclass(frozen=True, slots=True)
class _Ack:
    alert_id: str
    incident_id: str | None


@dataclass(frozen=True, slots=True)
class _Resolve:
    incident_id: str


@dataclass(frozen=True, slots=True)
class _Repeat:
    device: Device


@dataclass(frozen=True, slots=True)
class _Answer:
    checkin_id: str


@dataclass(frozen=True, slots=True)
class _Setting:
    action: NurseAction


_Action = _Deliver | _Tick | _Ack | _Resolve | _Repeat | _Answer | _Setting


def run_session(
    plan: SessionPlan,
    rules: RuleSet,
    *,
    repeat_hook: RepeatHook = repeat_requests,
    nurse: bool = True,
    limits: bool = False,
) -> SessionOutcome:
    """Run one planned session through the rules until its follow-up ends; with `limits`, the nurse
    also sets the patient's own limits before the first reading and snoozes a warning it
    acknowledged (`nurse_limits`)."""
    patient_id = plan.patient.patient_id
    state = new_state(patient_id)
    rng = session_rng(plan.seed, plan.index, "responses")
    resolving_rng = session_rng(plan.seed, plan.index, "resolutions")  # the others' draws stay as they were
    outcome = Outcome.NEEDED_ACTION if plan.injected else Outcome.NOT_NEEDED
    heap: list[tuple[datetime, int, _Action]] = []
    order = itertools.count()

    def push(at: datetime, action: _Action) -> None:
        heapq.heappush(heap, (at, next(order), action))

    for planned in plan.events:
        push(planned.arrival, _Deliver(planned))
    if limits and plan.events:
        first = min(p.event.ts for p in plan.events) - TIMER_NUDGE
        for setting in session_limits(plan.patient, first, rules):
            push(first, _Setting(setting))
    latest: dict[str, Alert] = {}
    clock: datetime | None = None
    scheduled: datetime | None = None
    evidence: datetime | None = None
    emitted: list[Emitted] = []
    awaiting_ack: set[str] = set()
    resolving: set[str] = set()
    awaiting_repeat: set[Device] = set()
    repeated_at: list[datetime] = []
    asked: set[str] = set()
    acks = 0
    while heap:
        at, _, action = heapq.heappop(heap)
        if at > plan.horizon:
            break
        if isinstance(action, _Tick):
            if at != scheduled:
                continue  # superseded by a later schedule
            scheduled = None
        if isinstance(action, _Answer):
            answer = _answer(plan, action.checkin_id, at)
            if answer.evidence and (evidence is None or at < evidence):
                evidence = at
            push(answer.arrival, _Deliver(answer))
            continue
        if isinstance(action, _Repeat):
            awaiting_repeat.discard(action.device)
            repeated_at.append(at)
            reading = plan.reading(action.device, at, rng, f"{plan.session_id}-repeat-{len(repeated_at):03d}")
            push(reading.arrival, _Deliver(reading))
            continue
        now = at if clock is None else max(clock, at)
        clock = now
        messages: Sequence[object]
        if isinstance(action, _Tick):
            messages = advance(state, now, rules)
        elif isinstance(action, _Ack):
            awaiting_ack.discard(action.alert_id)
            acks += 1
            ack = NurseAction(
                type="ack", alert_id=action.alert_id, patient_id=patient_id, by=NURSE_ID, ts=now
            )
            messages = process(state, ack, now, rules)
            acked = latest.get(action.alert_id)
            if limits and acked is not None and (snooze := snooze_after_ack(acked, now, rules)):
                messages = [*messages, *process(state, snooze, now, rules)]
            if action.incident_id and action.incident_id not in resolving:
                resolving.add(action.incident_id)
                if (wait := resolve_delay(resolving_rng)) is not None:
                    push(now + wait, _Resolve(action.incident_id))
        elif isinstance(action, _Setting):
            messages = process(state, action.action, now, rules)
        elif isinstance(action, _Resolve):
            resolve = NurseAction(
                type="resolve",
                alert_id=action.incident_id,
                patient_id=patient_id,
                by=NURSE_ID,
                ts=now,
                outcome=outcome,
                action_taken="called the patient",
            )
            messages = process(state, resolve, now, rules)
        else:
            item = action.planned.event
            if action.planned.evidence and (evidence is None or item.ts < evidence):
                evidence = item.ts
            messages = process(state, item, now, rules)
        alerts = [m for m in messages if isinstance(m, Alert)]
        emitted.extend(Emitted(alert, now) for alert in alerts)
        if limits:
            latest.update((alert.alert_id, alert) for alert in alerts)
        told = to_patient(state, alerts, rules)
        for prompt in told:
            if (
                prompt.kind is PatientMessageKind.CHECKIN
                and prompt.checkin_id
                and prompt.checkin_id not in asked
            ):
                asked.add(prompt.checkin_id)
                if (wait := checkin_delay(rng)) is not None:
                    push(max(prompt.ts, now) + wait, _Answer(prompt.checkin_id))
        for request in repeat_hook([*alerts, *told]):
            for device in devices_for(request, worn_oximeter=plan.patient.continuous_oximeter):
                delay = repeat_delay(device, rng)
                if device not in awaiting_repeat and delay is not None:
                    awaiting_repeat.add(device)
                    push(max(request.at, now) + delay, _Repeat(device))
        for alert in alerts if nurse else ():
            if (
                is_page(alert)
                and alert.alert_id not in awaiting_ack
                and (delay := ack_delay(rng)) is not None
            ):
                awaiting_ack.add(alert.alert_id)
                push(now + delay, _Ack(alert.alert_id, alert.incident_id))
        due = next_due(state, rules)
        if due is not None and due != scheduled:
            scheduled = due if due > now else now + TIMER_NUDGE
            push(scheduled, _Tick())
    injected = plan.injected
    return SessionOutcome(
        index=plan.index,
        session_id=plan.session_id,
        start=plan.start,
        stop=plan.stop,
        infusion_hours=plan.infusion_hours,
        kind=injected.kind if injected else None,
        detail=injected.detail if injected else "",
        onset=plan.at(injected.onset) if injected else None,
        evidence=evidence,
        emitted=tuple(emitted),
        repeated_at=tuple(repeated_at),
        acks=acks,
        headache=plan.headache,
    )


def _answer(plan: SessionPlan, checkin_id: str, at: datetime) -> Planned:
    """The patient's answer to a check-in at `at`: the serious event's signs present then."""
    signs = plan.injected.signs_at(plan.minute(at)) if plan.injected else ()
    answer = Checkin(
        type="checkin",
        patient_id=plan.patient.patient_id,
        session_id=plan.session_id,
        ts=at,
        event_id=f"{checkin_id}:answer",
        checkin_id=checkin_id,
        symptoms=[SymptomAnswer(symptom=s.symptom, severity=s.severity, score=s.score) for s in signs],
    )
    return Planned(at, answer, evidence=bool(signs))


def run_cohort(
    sessions: int,
    seed: int,
    serious_share: float,
    rules: RuleSet,
    *,
    nurse: bool = True,
    repeat_hook: RepeatHook = repeat_requests,
    limits: bool = False,
) -> Iterator[SessionOutcome]:
    """Sessions 0 .. sessions-1 of the cohort, one at a time."""
    for index in range(sessions):
        plan = plan_session(index, seed, serious_share)
        yield run_session(plan, rules, repeat_hook=repeat_hook, nurse=nurse, limits=limits)
