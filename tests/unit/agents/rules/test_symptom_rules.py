"""Symptom rows: aseptic meningitis, thrombosis, renal injury, hemolysis and fainting, in their windows."""

from __future__ import annotations

from agents.rules.loader import load_rules
from tests.builders import Timeline, of, run, summary

RULES = load_rules()
HOUR = 60
DAY = 24 * HOUR
STOP = 3 * HOUR


def infusion(**profile: object) -> Timeline:
    """A three-hour infusion with vitals every 10 minutes, stopped at STOP."""
    t = Timeline()
    if profile:
        t.profile(**profile)
    t.baseline(-10).start_infusion()
    for minute in range(10, STOP, 10):
        t.vitals(minute, heart_rate=74, systolic_bp=120, diastolic_bp=78, temperature_c=36.8, spo2=98)
    return t.infusion(STOP, "stop")


def firing(alerts: list, condition: str) -> list[tuple[str, str, str]]:
    return [s for s in summary(of(alerts, condition)) if s[1] == "firing"]


def test_severe_headache_with_neck_stiffness_a_day_later_is_aseptic_meningitis() -> None:
    t = infusion().symptom(STOP + DAY, "headache", "severe").symptom(STOP + DAY + 10, "neck_stiffness")
    alerts = of(run(t), "aseptic_meningitis")
    assert summary(alerts)[0] == ("aseptic_meningitis", "firing", "urgent")
    assert "24.2 h after the infusion ended" in alerts[0].evidence.summary
    assert alerts[0].evidence.symptoms == ["headache", "neck_stiffness"]


def test_a_headache_scored_7_counts_as_severe_but_a_moderate_one_does_not() -> None:
    scored = (
        infusion().symptom(STOP + HOUR, "headache", "moderate", score=7).symptom(STOP + HOUR, "photophobia")
    )
    moderate = (
        infusion().symptom(STOP + HOUR, "headache", "moderate", score=6).symptom(STOP + HOUR, "photophobia")
    )
    assert firing(run(scored), "aseptic_meningitis") == [("aseptic_meningitis", "firing", "urgent")]
    assert firing(run(moderate), "aseptic_meningitis") == []


def test_aseptic_meningitis_window_ends_seven_days_after_the_stop() -> None:
    def at(minutes: float) -> list:
        t = infusion().symptom(minutes, "headache", "severe").symptom(minutes, "neck_stiffness")
        return firing(run(t), "aseptic_meningitis")

    assert at(STOP + 7 * DAY - 1) == [("aseptic_meningitis", "firing", "urgent")]
    assert at(STOP + 7 * DAY) == []
    assert at(STOP - 30) == []  # while infusing it is an infusion reaction, not meningitis


def test_chest_pain_is_critical_thrombosis_from_the_start_to_ten_days_after() -> None:
    during = infusion().symptom(60, "chest_pain", "moderate")
    late = infusion().symptom(STOP + 10 * DAY - 1, "speech_difficulty", "mild")
    after = infusion().symptom(STOP + 10 * DAY, "one_sided_weakness", "mild")
    assert firing(run(during), "thrombosis") == [("thrombosis", "firing", "critical")]
    assert firing(run(late), "thrombosis") == [("thrombosis", "firing", "critical")]
    assert firing(run(after), "thrombosis") == []


def test_limb_swelling_is_urgent_and_rises_to_critical_with_chest_pain() -> None:
    t = infusion().symptom(STOP + 2 * DAY, "limb_swelling").symptom(STOP + 2 * DAY + 10, "chest_pain")
    assert [(a.status.value, a.severity.value) for a in of(run(t), "thrombosis")][:2] == [
        ("firing", "urgent"),
        ("firing", "critical"),
    ]


def test_reduced_urination_after_the_infusion_is_urgent_renal_injury() -> None:
    alerts = firing(run(infusion().symptom(STOP + 2 * DAY, "reduced_urination")), "renal_injury")
    assert alerts == [("renal_injury", "firing", "urgent")]
    assert firing(run(infusion().symptom(60, "reduced_urination")), "renal_injury") == []


def test_a_2_kg_weight_gain_within_48_hours_is_a_renal_warning() -> None:
    t = (
        infusion()
        .vitals(-20, weight_kg=70.0)
        .vitals(STOP + DAY, weight_kg=71.0)
        .vitals(STOP + 40 * HOUR, weight_kg=72.0)
    )
    alerts = of(run(t), "renal_injury")
    assert summary(alerts)[0] == ("renal_injury", "firing", "warning")
    assert alerts[0].evidence.values == {"weight_kg": 72.0}
    assert alerts[0].evidence.baseline == {"weight_kg": 70.0}
    assert alerts[0].evidence.change == {"weight_kg": 2.0}


def test_a_gain_spread_over_more_than_48_hours_and_a_small_gain_stay_quiet() -> None:
    slow = infusion().vitals(-20, weight_kg=70.0).vitals(STOP + 3 * DAY, weight_kg=72.5)
    small = infusion().vitals(-20, weight_kg=70.0).vitals(STOP + DAY, weight_kg=71.9)
    assert of(run(slow), "renal_injury") == []
    assert of(run(small), "renal_injury") == []


def test_a_renal_risk_factor_tightens_the_weight_gain_to_one_and_a_half_kg() -> None:
    t = (
        infusion(risk_factors=["renal_disease"])
        .vitals(-20, weight_kg=70.0)
        .vitals(STOP + DAY, weight_kg=71.5)
    )
    assert firing(run(t), "renal_injury") == [("renal_injury", "firing", "warning")]


def test_dark_urine_after_the_infusion_is_urgent_hemolysis() -> None:
    assert firing(run(infusion().symptom(STOP + 36 * HOUR, "dark_urine")), "hemolysis") == [
        ("hemolysis", "firing", "urgent")
    ]
    assert firing(run(infusion().symptom(STOP + 10 * DAY, "dark_urine")), "hemolysis") == []


def test_fainting_is_urgent_hypotension_and_critical_with_a_systolic_below_90() -> None:
    # post-late, where the blood-pressure rows of hypotension no longer apply by themselves
    alone = infusion().symptom(STOP + 8 * HOUR, "fainting")
    with_low_pressure = (
        infusion()
        .symptom(STOP + 8 * HOUR, "fainting")
        .vitals(STOP + 8 * HOUR + 5, systolic_bp=86, diastolic_bp=50)
    )
    assert firing(run(alone), "hypotension") == [("hypotension", "firing", "urgent")]
    raised = of(run(with_low_pressure), "hypotension")
    assert [(a.status.value, a.severity.value) for a in raised][:2] == [
        ("firing", "urgent"),
        ("firing", "critical"),
    ]
    assert "systolic_bp 86" in raised[1].evidence.summary


def test_fainting_before_the_start_is_still_hypotension() -> None:
    t = Timeline().symptom(-20, "fainting")
    assert firing(run(t), "hypotension") == [("hypotension", "firing", "urgent")]


def test_a_resolved_symptom_alert_does_not_fire_again_until_a_new_report() -> None:
    t = infusion().symptom(STOP + DAY, "dark_urine").nurse(STOP + DAY + 5, "resolve", "s1:hemolysis:1")
    t.vitals(STOP + DAY + 10, heart_rate=80)
    assert [a.status.value for a in of(run(t), "hemolysis")] == ["firing", "resolved"]
    t.symptom(STOP + DAY + 20, "dark_urine")
    again = of(run(t), "hemolysis")
    assert [(a.alert_id, a.status.value) for a in again][-1] == ("s1:hemolysis:2", "firing")


def test_a_hypotension_alert_raised_only_by_fainting_is_not_a_vital_sign_alert_for_a_reaction() -> None:
    fainted = infusion().symptom(STOP + 60, "fainting").symptom(STOP + 62, "headache", "mild")
    low_pressure = infusion().vitals(STOP + 60, systolic_bp=98, diastolic_bp=60)
    low_pressure.symptom(STOP + 62, "headache", "mild")
    assert firing(run(fainted), "infusion_reaction") == [("infusion_reaction", "firing", "warning")]
    # a 22 mmHg fall from the baseline of 122 is a hypotension warning raised by a reading
    assert firing(run(low_pressure), "infusion_reaction") == [("infusion_reaction", "firing", "urgent")]
