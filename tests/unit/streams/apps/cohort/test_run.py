"""The driver: today's rules run through simulated sessions as replay runs them, answering their messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from agents.rules.engine import new_state
from agents.rules.loader import load_rules
from agents.rules.patient_channel import to_patient
from models.alerts import Condition, Evidence, RuleRef, Severity
from models.ruleset import RuleSet
from streams.apps.cohort import responses
from streams.apps.cohort.figures import event_result, pages, summarise
from streams.apps.cohort.responses import RepeatRequest
from streams.apps.cohort.run import run_cohort, run_session
from streams.apps.cohort.serious_events import Kind
from streams.apps.cohort.session_plan import PUMP_LATENCY, plan_session
from tests.unit.streams.apps.cohort.hand_built import message

SEED = 14


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def first_index(kind: Kind) -> int:
    return next(i for i in range(200) if (p := plan_session(i, SEED, 1.0).injected) and p.kind is kind)


def test_an_injected_anaphylaxis_is_paged_critical_within_5_minutes(rules: RuleSet) -> None:
    plan = plan_session(first_index(Kind.ANAPHYLAXIS), SEED, 1.0)
    result = run_session(plan, rules)
    assert result.evidence is not None and result.onset is not None
    critical = [
        p
        for p in pages(result.emitted)
        if p.alert.condition is Condition.ANAPHYLAXIS and p.alert.severity is Severity.CRITICAL
    ]
    assert critical and critical[0].at - result.evidence <= timedelta(minutes=5)
    assert event_result(result).caught


def test_a_session_runs_the_same_twice(rules: RuleSet) -> None:
    plan = plan_session(2, SEED, 0.05)
    first, second = run_session(plan, rules), run_session(plan, rules)
    assert first.emitted == second.emitted and first.emitted


def test_timers_fire_at_their_due_time(rules: RuleSet) -> None:
    result = run_session(plan_session(2, SEED, 0.0), rules)
    stale = [
        e
        for e in result.emitted
        if e.alert.condition is Condition.STALE_DATA and e.alert.status.value == "firing"
    ]
    # A set of the care schedule due at a rate increase or at the stop is known once that pump event
    # arrives (its latency, seconds after its time): its reminder comes then; the others on time.
    on_pump_event = {"care_schedule.rate_step", "care_schedule.end"}
    latency, on_time = timedelta(seconds=PUMP_LATENCY[1]), timedelta(milliseconds=1)
    assert stale and all(
        timedelta(0) <= e.at - e.alert.ts <= (latency if e.alert.rule.id in on_pump_event else on_time)
        for e in stale
    )


def test_the_simulated_nurse_acknowledges_pages_and_so_stops_their_escalation(rules: RuleSet) -> None:
    plan = plan_session(first_index(Kind.ANAPHYLAXIS), SEED, 1.0)
    with_nurse, alone = run_session(plan, rules), run_session(plan, rules, nurse=False)
    escalations = lambda o: sum(e.alert.status.value == "escalated" for e in o.emitted)  # noqa: E731
    assert escalations(with_nurse) < escalations(alone)
    assert with_nurse.acks > 0 and alone.acks == 0


def test_repeat_requests_schedule_the_patients_repeat_reading(
    rules: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = plan_session(1, SEED, 0.0)
    asked: list[RepeatRequest] = []

    def hook(messages: Sequence[object]) -> list[RepeatRequest]:
        if asked:
            return []
        asked.append(RepeatRequest(frozenset({"systolic_bp"}), plan.start))
        return list(asked)

    assert run_session(plan, rules, repeat_hook=lambda _: []).repeated_at == ()
    monkeypatch.setattr(responses, "NEVER_REPEAT_SHARE", 0.0)
    repeated = run_session(plan, rules, repeat_hook=hook).repeated_at
    assert len(repeated) == 1
    assert repeated[0] - plan.events[0].arrival >= timedelta(minutes=responses.REPEAT_AT_LEAST_MINUTES)
    monkeypatch.setattr(responses, "NEVER_REPEAT_SHARE", 1.0)
    asked.clear()
    assert run_session(plan, rules, repeat_hook=hook).repeated_at == ()


def test_a_small_cohort_gives_its_figures(rules: RuleSet) -> None:
    outcomes = list(run_cohort(6, SEED, 0.5, rules))
    figures = summarise(outcomes)
    serious = sum(o.kind is not None for o in outcomes)
    assert figures.burden.sessions == 6 - serious
    assert figures.kinds[-1].events == serious
    assert figures.burden.infusion_hours > 0


def test_the_patient_repeats_what_the_patient_channel_asks_for(rules: RuleSet) -> None:
    low = message("hypotension", "critical", page=False).alert.model_copy(
        update={
            "pending": True,
            "evidence": Evidence(summary="s", phase="infusing", values={"systolic_bp": 84}),
            "rule": RuleRef(id="hypotension.absolute", version=rules.version),
        }
    )
    due = message("stale_data", "info", page=False).alert.model_copy(update={"pending": True})
    paged = message("hypoxemia", "urgent").alert  # confirmed: nothing to ask
    state = new_state(low.patient_id)
    told = to_patient(state, [low, due, paged], rules)
    asked = responses.repeat_requests([low, due, paged, *told])
    assert sorted(sorted(r.vitals) for r in asked) == sorted(
        [["systolic_bp"], sorted(rules.baseline.expected_vitals)]
    )
    assert responses.repeat_requests([low, due, paged]) == [], "alert messages themselves ask nothing"
