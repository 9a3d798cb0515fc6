"""A planned session: deterministic from the seed, valid contract events in arrival order."""

from __future__ import annotations

from streams.apps.cohort.session_plan import plan_session

SEED = 14


def test_a_session_is_the_same_for_the_same_seed_and_changes_with_it() -> None:
    assert plan_session(3, SEED, 0.05) == plan_session(3, SEED, 0.05)
    assert plan_session(3, SEED, 0.05).events != plan_session(3, SEED + 1, 0.05).events
    assert plan_session(3, SEED, 0.05).events != plan_session(4, SEED, 0.05).events


def test_an_uneventful_session_does_not_depend_on_the_serious_share() -> None:
    compared = 0
    for index in range(12):
        few, many = plan_session(index, SEED, 0.0), plan_session(index, SEED, 0.5)
        if many.injected is None:
            assert few.events == many.events
            compared += 1
    assert compared >= 3


def test_events_arrive_in_order_after_they_happen_and_the_profile_comes_first() -> None:
    plan = plan_session(0, SEED, 0.0)
    arrivals = [p.arrival for p in plan.events]
    assert arrivals == sorted(arrivals)
    assert plan.events[0].event.type == "profile"
    assert all(p.arrival >= p.event.ts for p in plan.events)
    assert {p.event.type for p in plan.events} == {"profile", "infusion", "vitals"} | (
        {"symptom"} if plan.headache else set()
    )


def test_a_serious_share_of_one_injects_an_event_in_every_session() -> None:
    plans = [plan_session(i, SEED, 1.0) for i in range(10)]
    assert all(p.injected is not None for p in plans)
    assert all(p.injected is None for p in (plan_session(i, SEED, 0.0) for i in range(10)))
