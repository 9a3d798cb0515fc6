"""The counting: pages once, per 100 infusion-hours and per patient-day, and sensitivity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.apps.cohort.figures import Burden, event_result, pages, render, summarise
from streams.apps.cohort.serious_events import Kind
from tests.unit.streams.apps.cohort.hand_built import message, outcome


def test_a_page_is_counted_once_and_acknowledgements_and_info_are_not_pages() -> None:
    stale = message("stale_data", "warning", minutes=20)
    found = pages(
        [
            stale,
            stale,  # the same message seen twice
            message("stale_data", "warning", "acknowledged", minutes=24),
            message("high_risk_session", "info", minutes=0),
            message("stale_data", "urgent", minutes=35),  # a raise is a new page
            message("stale_data", "urgent", "escalated", minutes=50, level=1),
        ]
    )
    assert [(p.alert.severity.value, p.alert.status.value) for p in found] == [
        ("warning", "firing"),
        ("urgent", "firing"),
        ("urgent", "escalated"),
    ]


def test_burden_counts_pages_during_and_after_the_infusion_per_hour_and_per_day() -> None:
    burden = Burden()
    burden.add(
        outcome(
            [
                message("stale_data", "warning", minutes=30),
                message("stale_data", "urgent", minutes=45),
                message("stale_data", "urgent", "escalated", minutes=60, level=1),
                message("hypertension", "urgent", minutes=150),  # after the stop at 120 min
            ],
            hours=2.0,
        )
    )
    assert burden.during == {"stale_data": 3} and burden.after == {"hypertension": 1}
    assert burden.escalations == {"stale_data": 1}
    assert burden.per_100_hours(3) == pytest.approx(150.0)
    assert burden.per_day(1) == pytest.approx(0.1)  # ten days of follow-up
    assert burden.with_page == 1


def test_an_event_paged_at_urgent_within_5_minutes_of_its_evidence_is_caught() -> None:
    result = event_result(
        outcome(
            [
                message("infusion_reaction", "warning", minutes=11),
                message("anaphylaxis", "critical", minutes=13),
            ],
            kind=Kind.ANAPHYLAXIS,
            onset=9,
            evidence=10,
        )
    )
    assert result.caught and result.seen
    assert result.to_page == timedelta(minutes=3)
    assert result.pages == 2


def test_a_page_later_than_5_minutes_is_not_caught_but_gives_the_time_to_page() -> None:
    result = event_result(
        outcome([message("anaphylaxis", "critical", minutes=16)], kind=Kind.ANAPHYLAXIS, onset=9, evidence=10)
    )
    assert not result.caught
    assert result.to_page == timedelta(minutes=6)


def test_a_warning_or_a_page_about_something_else_is_not_caught() -> None:
    result = event_result(
        outcome(
            [
                message("infusion_reaction", "warning", minutes=11),  # below urgent
                message("stale_data", "urgent", minutes=12),  # not about the event
                message("hypotension", "critical", minutes=5),  # before the onset
            ],
            kind=Kind.ANAPHYLAXIS,
            onset=9,
            evidence=10,
        )
    )
    assert not result.caught and result.to_page is None
    assert result.pages == 2


def test_an_event_whose_evidence_never_reached_the_rules_is_not_seen() -> None:
    result = event_result(outcome([], kind=Kind.FEBRILE, onset=40, evidence=None))
    assert not result.seen and not result.caught


def test_summary_and_table_have_every_kind_and_the_totals() -> None:
    figures = summarise(
        [
            outcome([message("stale_data", "warning", minutes=30)]),
            outcome(
                [message("thrombosis", "critical", minutes=3000)],
                kind=Kind.THROMBOSIS,
                onset=2990,
                evidence=2999,
            ),
        ]
    )
    assert figures.burden.sessions == 1
    assert [k.kind for k in figures.kinds] == [*(k.value for k in Kind), "all"]
    thrombosis = figures.kinds[[k.value for k in Kind].index("thrombosis")]
    assert (thrombosis.events, thrombosis.caught, thrombosis.sensitivity) == (1, 1, 1.0)
    text = render(figures, ["header"], [])
    assert "pages per 100 uneventful infusion-hours: 50.0" in text
    assert "thrombosis" in text and "stale_data" in text
