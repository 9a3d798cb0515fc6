"""NEWS2 (early_warning_score): bands from the rule file, rounding, full set, oxygen, confusion."""

from __future__ import annotations

import pytest

from agents.rules.loader import load_rules
from agents.rules.news2 import round_to
from tests.builders import Timeline, confirmed, of, run, summary

RULES = load_rules()
NORMAL = {"respiratory_rate": 16, "spo2": 97, "systolic_bp": 125, "heart_rate": 75, "temperature_c": 36.8}


@pytest.mark.parametrize(
    ("vital", "value", "score"),
    [
        ("respiratory_rate", 8, 3),
        ("respiratory_rate", 9, 1),
        ("respiratory_rate", 20, 0),
        ("respiratory_rate", 21, 2),
        ("respiratory_rate", 25, 3),
        ("spo2", 91, 3),
        ("spo2", 93, 2),
        ("spo2", 95, 1),
        ("spo2", 96, 0),
        ("systolic_bp", 90, 3),
        ("systolic_bp", 100, 2),
        ("systolic_bp", 110, 1),
        ("systolic_bp", 219, 0),
        ("systolic_bp", 220, 3),
        ("heart_rate", 40, 3),
        ("heart_rate", 50, 1),
        ("heart_rate", 91, 1),
        ("heart_rate", 130, 2),
        ("heart_rate", 131, 3),
        ("temperature_c", 35.0, 3),
        ("temperature_c", 36.0, 1),
        ("temperature_c", 38.0, 0),
        ("temperature_c", 38.1, 1),
        ("temperature_c", 39.1, 2),
    ],
)
def test_band_edges_match_the_rcp_chart(vital: str, value: float, score: int) -> None:
    assert RULES.early_warning_score.score(vital, value) == score


@pytest.mark.parametrize(
    ("value", "precision", "rounded"), [(20.5, 1, 21), (20.4, 1, 20), (38.05, 0.1, 38.1), (38.04, 0.1, 38.0)]
)
def test_values_are_rounded_half_up_to_the_chart_precision(
    value: float, precision: float, rounded: float
) -> None:
    assert round_to(value, precision) == pytest.approx(rounded)


def session_with(minutes: float = 20, **overrides: float | bool) -> Timeline:
    t = Timeline().baseline(-10).start_infusion()
    for minute in range(5, int(minutes), 5):
        t.vitals(minute, **NORMAL)
    return t.vitals(minutes, **{**NORMAL, **overrides})


def test_normal_full_sets_score_nothing() -> None:
    assert of(run(session_with()), "early_warning_score") == []


def test_total_of_five_is_urgent_and_explains_every_parameter() -> None:
    # RR 22 (2) + SpO2 95 (1) + pulse 95 (1) + temperature 38.2 (1) = 5
    alerts = of(
        run(session_with(respiratory_rate=22, spo2=95, heart_rate=95, temperature_c=38.2)),
        "early_warning_score",
    )
    assert summary(alerts) == [("early_warning_score", "firing", "urgent")]
    summary_text = alerts[0].evidence.summary
    assert summary_text.startswith("NEWS2 5:")
    assert "respiratory_rate 22 (2)" in summary_text and "air (0)" in summary_text
    assert alerts[0].rule.id == "early_warning_score.urgent"


def test_supplemental_oxygen_adds_two() -> None:
    # RR 22 (2) + SpO2 94 (1) + oxygen (2) = 5
    alerts = of(run(session_with(respiratory_rate=22, spo2=94, on_oxygen=True)), "early_warning_score")
    assert summary(alerts) == [("early_warning_score", "firing", "urgent")]
    assert "oxygen (2)" in alerts[0].evidence.summary


def test_a_total_of_seven_is_critical() -> None:
    # RR 25 (3) + SpO2 92 (2) + pulse 115 (2) = 7
    alerts = of(run(session_with(respiratory_rate=25, spo2=92, heart_rate=115)), "early_warning_score")
    assert summary(alerts)[0] == ("early_warning_score", "firing", "critical")


def test_a_single_red_parameter_is_a_warning() -> None:
    alerts = of(run(session_with(respiratory_rate=26)), "early_warning_score")
    assert summary(alerts) == [("early_warning_score", "firing", "warning")]
    assert alerts[0].rule.id == "early_warning_score.red_score"


def test_new_confusion_scores_three_and_the_alert_then_waits_for_a_nurse() -> None:
    t = session_with(respiratory_rate=21, heart_rate=95).symptom(21, "confusion", "moderate")
    for minute in range(25, 80, 5):
        t.vitals(minute, **NORMAL)
    everything = run(t)
    alerts = of(everything, "early_warning_score")
    # RR 21 (2) + pulse 95 (1) = 3, then confusion (3) = 6: urgent; a symptom never auto-resolves,
    # so its incident escalates until a nurse acknowledges it
    assert summary(alerts) == [("early_warning_score", "firing", "urgent")]
    incident = [a.status.value for a in of(everything, "incident")]
    assert incident[0] == "firing" and incident.count("escalated") == 3 and incident[-1] == "escalated"
    assert "new confusion (3)" in alerts[0].evidence.summary


def test_no_score_without_a_full_set() -> None:
    t = Timeline().start_infusion()
    for minute in range(0, 40, 5):
        t.vitals(minute, spo2=90, heart_rate=135, systolic_bp=85, temperature_c=36.8)  # no breathing rate
    assert of(run(t), "early_warning_score") == []


def test_a_breathing_rate_older_than_30_minutes_leaves_the_set_incomplete() -> None:
    t = Timeline().baseline(-10).start_infusion()
    t.vitals(25, spo2=91, heart_rate=131, systolic_bp=125, temperature_c=36.8)  # RR from -10: 35 min old
    assert of(run(t), "early_warning_score") == []


def test_a_vitals_alert_resolves_15_minutes_after_the_score_falls() -> None:
    t = session_with(respiratory_rate=26)
    for minute in range(25, 60, 5):
        t.vitals(minute, **NORMAL)
    # The score rests on one lone reading (RR 26, nothing else past a limit): it waits for a repeat
    # with that reading, pending, and pages unconfirmed when none comes (a score's other vitals,
    # normal, corroborate nothing)
    alerts = confirmed(of(run(t), "early_warning_score"))
    assert summary(alerts) == [
        ("early_warning_score", "firing", "warning"),
        ("early_warning_score", "resolved", "warning"),
    ]
    assert alerts[1].ts == Timeline().start.replace(minute=40)  # cleared at 25, resolved 15 min later
