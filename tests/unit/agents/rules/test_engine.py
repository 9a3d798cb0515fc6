"""The rule engine through replay: what a nurse would see for a given infusion."""

from __future__ import annotations

from datetime import timedelta

from agents.rules.loader import load_rules
from tests.builders import START, Timeline, confirmed, of, run, summary


def session(**profile: object) -> Timeline:
    t = Timeline()
    if profile:
        t.profile(**profile)
    return t.baseline(-10).start_infusion()


def every_5_min(t: Timeline, until: int, **values: object) -> Timeline:
    """Oximeter readings every 5 minutes keep the session from going stale."""
    for minute in range(5, until + 1, 5):
        t.vitals(minute, **values)
    return t


def test_febrile_reaction_after_rate_step_is_urgent_and_names_the_previous_rate() -> None:
    t = session().infusion(30, "rate_change", 100)
    t.vitals(45, temperature_c=38.1, heart_rate=95)
    alerts = run(t)
    fever = of(alerts, "fever")
    assert summary(fever) == [("fever", "firing", "urgent")]
    assert fever[0].alert_id == "s1:fever:1"
    assert fever[0].evidence.baseline == {"temperature_c": 36.8}
    assert fever[0].evidence.previous_rate_ml_per_h == 50
    assert fever[0].evidence.minutes_since_rate_step == 15
    assert "previous rate of 50 mL/h" in fever[0].action
    assert fever[0].rule.id == "fever.febrile_reaction" and fever[0].rule.version == load_rules().version


def test_a_condition_that_stays_true_sends_one_message_not_one_per_reading() -> None:
    t = every_5_min(session(), 40, temperature_c=38.3, spo2=98)
    fever = confirmed(of(run(t), "fever"))  # the first reading waits for its repeat (pending)
    assert [a.status.value for a in fever].count("firing") == 1
    assert {a.status.value for a in fever} <= {"firing", "escalated"}


def test_severity_only_rises_while_open() -> None:
    t = session().vitals(5, heart_rate=115).vitals(10, heart_rate=135).vitals(15, heart_rate=115)
    assert summary(confirmed(of(run(t), "tachycardia"))) == [  # 115 waits; 135 confirms and raises
        ("tachycardia", "firing", "warning"),
        ("tachycardia", "firing", "urgent"),
    ]


def test_vital_alert_resolves_after_15_minutes_below_the_limit_minus_hysteresis() -> None:
    t = session().vitals(5, heart_rate=115)
    t.vitals(10, heart_rate=108)  # inside the 5 /min hysteresis band: still holding
    t.vitals(20, heart_rate=90)  # below 111 - 5 and under 72 + 30 - 5: clear from here
    t.vitals(30, heart_rate=88)
    tachy = confirmed(of(run(t, until_minutes=60), "tachycardia"))  # unconfirmed at 10:08, no repeat past it
    assert summary(tachy) == [("tachycardia", "firing", "warning"), ("tachycardia", "resolved", "warning")]
    assert tachy[1].ts.strftime("%H:%M") == "10:35"


def test_critical_alerts_never_resolve_by_themselves() -> None:
    # a fast heart in the same reading corroborates the low pressure: it pages at once (confirmed)
    t = session().vitals(5, systolic_bp=85, diastolic_bp=50, heart_rate=135)
    every_5_min(t, 60, systolic_bp=120, diastolic_bp=75)
    hypo = of(run(t), "hypotension")
    assert hypo[0].severity.value == "critical"
    assert "resolved" not in [a.status.value for a in hypo]


def test_unacknowledged_urgent_escalates_every_15_minutes_up_to_level_3() -> None:
    """Escalation is the incident's (one timer per episode); the alert itself stays firing. (155/min
    is beyond the extreme limit: it pages at once, without waiting for a repeat.)"""
    t = session().vitals(5, heart_rate=155, spo2=98)
    every_5_min(t, 90, heart_rate=155, spo2=98)
    alerts = run(t)
    tachy = of(alerts, "tachycardia")
    assert summary(tachy) == [("tachycardia", "firing", "urgent")] and tachy[0].page
    incident = of(alerts, "incident")
    escalations = [(a.status.value, a.escalation_level, a.ts.strftime("%H:%M"), a.page) for a in incident[1:]]
    assert escalations == [
        ("escalated", 1, "10:20", True),
        ("escalated", 2, "10:35", True),
        ("escalated", 3, "10:50", True),
    ]
    assert incident[0].alert_id == tachy[0].incident_id and not incident[0].page


def test_acknowledgement_stops_escalation_and_records_who() -> None:
    t = session().vitals(5, heart_rate=155, spo2=98)  # beyond the extreme limit: pages at once
    t.nurse(8, "ack", "s1:tachycardia:1", by="rn-7", note="calling")
    every_5_min(t, 60, heart_rate=155, spo2=98)
    tachy = of(run(t), "tachycardia")
    assert summary(tachy) == [("tachycardia", "firing", "urgent"), ("tachycardia", "acknowledged", "urgent")]
    assert (tachy[1].by, tachy[1].note) == ("rn-7", "calling")


def test_a_worse_reading_clears_the_acknowledgement() -> None:
    t = session().vitals(5, spo2=93).nurse(6, "ack", "s1:hypoxemia:1").vitals(10, spo2=90)
    hypox = of(run(t), "hypoxemia")
    assert summary(hypox) == [
        ("hypoxemia", "firing", "warning"),
        ("hypoxemia", "acknowledged", "warning"),
        ("hypoxemia", "firing", "urgent"),
    ]


def test_after_a_nurse_resolves_the_condition_fires_again_as_a_new_alert() -> None:
    t = session().vitals(5, spo2=93).nurse(6, "resolve", "s1:hypoxemia:1").vitals(10, spo2=93)
    hypox = of(run(t), "hypoxemia")
    assert [(a.alert_id, a.status.value) for a in hypox] == [
        ("s1:hypoxemia:1", "firing"),
        ("s1:hypoxemia:1", "resolved"),
        ("s1:hypoxemia:2", "firing"),
    ]


def test_single_mild_headache_is_shown_as_information_not_paged() -> None:
    # rule file 1.3.0: a mild headache alone (1-4/10) is managed at home (Nufactor; clinical
    # reference 2.3, 4.5), so it is information, not a warning page
    t = every_5_min(session(), 40, spo2=98).symptom(20, "headache", "mild", score=3)
    alerts = run(t)
    assert summary(alerts) == [("infusion_reaction", "firing", "info")]
    assert not any(a.page for a in alerts)
    assert "managed at home" in alerts[0].evidence.summary


def test_a_moderate_headache_or_one_with_another_symptom_still_pages() -> None:
    moderate = every_5_min(session(), 40, spo2=98).symptom(20, "headache", "moderate", score=5)
    assert summary(of(run(moderate), "infusion_reaction")) == [("infusion_reaction", "firing", "warning")]
    with_chills = every_5_min(session(), 40, spo2=98).symptom(20, "headache", "mild", score=3)
    with_chills.symptom(25, "chills", "mild")
    reaction = of(run(with_chills), "infusion_reaction")
    assert summary(reaction) == [
        ("infusion_reaction", "firing", "info"),
        ("infusion_reaction", "firing", "urgent"),
    ]
    assert reaction[-1].page


def test_a_high_risk_patient_keeps_the_untightened_20_mmhg_fall_warning() -> None:
    # hypotension.drop_20 has `tightened = false`: a 16 mmHg fall is not a finding for a high-risk
    # patient (it would be with x0.75), a 20 mmHg fall still is
    small = session(risk_factors=["first_infusion"]).vitals(20, systolic_bp=106, diastolic_bp=70)
    assert not of(run(small, until_minutes=40), "hypotension")
    fall = session(risk_factors=["first_infusion"]).vitals(20, systolic_bp=102, diastolic_bp=70)
    assert of(run(fall, until_minutes=40), "hypotension")[0].rule.id == "hypotension.drop_20"


def test_severe_or_several_symptoms_raise_the_reaction_to_urgent() -> None:
    severe = session().symptom(20, "headache", "severe", score=8)
    several = session().symptom(20, "chills").symptom(22, "nausea")
    assert of(run(severe), "infusion_reaction")[0].severity.value == "urgent"
    assert summary(of(run(several), "infusion_reaction")) == [
        ("infusion_reaction", "firing", "warning"),
        ("infusion_reaction", "firing", "urgent"),
    ]


def test_skin_sign_with_wheezing_is_anaphylaxis_critical_with_the_emergency_action() -> None:
    t = session(epinephrine_available=True).symptom(20, "hives").symptom(24, "wheezing", "severe")
    ana = of(run(t), "anaphylaxis")
    assert summary(ana) == [("anaphylaxis", "firing", "critical")]
    assert "epinephrine" in ana[0].action and "emergency services" in ana[0].action
    assert ana[0].evidence.symptoms == ["hives", "wheezing"]


def test_hives_alone_is_not_anaphylaxis() -> None:
    alerts = run(session().symptom(20, "hives"))
    assert not of(alerts, "anaphylaxis")
    assert summary(of(alerts, "infusion_reaction")) == [("infusion_reaction", "firing", "warning")]


def test_skin_sign_with_low_oxygen_reading_is_anaphylaxis() -> None:
    t = session().symptom(20, "flushing").vitals(25, spo2=91)
    assert of(run(t), "anaphylaxis")


def test_low_pressure_alone_is_anaphylaxis_during_infusion() -> None:
    t = session().vitals(20, systolic_bp=80, diastolic_bp=50)
    assert summary(of(run(t), "anaphylaxis")) == [("anaphylaxis", "firing", "critical")]


def test_symptoms_30_minutes_apart_are_not_together() -> None:
    t = session().symptom(10, "hives").symptom(41, "abdominal_pain")
    assert not of(run(t), "anaphylaxis")


def test_high_risk_profile_tightens_the_relative_limits() -> None:
    low = session().vitals(10, temperature_c=37.6)
    high = session(risk_factors=["first_infusion"]).vitals(10, temperature_c=37.6)
    assert not of(run(low), "temperature_rise")
    assert of(run(high), "temperature_rise")


def test_missing_baseline_reminds_at_15_minutes_and_pages_for_vitals_still_unread_after_the_grace() -> None:
    t = Timeline().start_infusion().vitals(20, temperature_c=38.2, spo2=98)
    alerts = run(t, until_minutes=40)
    base = of(alerts, "baseline_missing")
    assert [(a.ts.minute, a.severity.value, a.pending, a.page) for a in base] == [
        (15, "info", True, False),  # a reminder: the patient is asked for the vitals
        (30, "warning", False, True),  # heart rate and systolic still not read after the grace
    ]
    assert "heart_rate, systolic_bp" in base[-1].evidence.summary
    assert "temperature_c" not in base[-1].evidence.summary  # read at 20 min
    assert of(alerts, "fever")[0].rule.id in {"fever.no_baseline", "fever.febrile_reaction"}


def test_a_baseline_reminder_closes_without_a_page_once_the_missing_vitals_are_read() -> None:
    t = Timeline().vitals(-10, heart_rate=72, spo2=98).start_infusion()
    t.vitals(22, systolic_bp=120, diastolic_bp=75, temperature_c=36.7)
    base = of(run(t, until_minutes=40), "baseline_missing")
    assert [(a.ts.minute, a.status.value, a.page) for a in base] == [
        (15, "firing", False),
        (30, "resolved", False),
    ]


def test_silence_while_infusing_raises_stale_data_then_resolves_at_the_next_reading() -> None:
    # On the care schedule (no longer 15/30 minutes after the last reading): the 15-minute set is
    # due at 10:15 (a reminder, no page), paged as a warning after its grace; the hourly set at a
    # steady rate, due 11:00, is the second missed in a row: urgent at 11:15.
    t = session().vitals(5, spo2=98).vitals(80, spo2=98)
    stale = of(run(t), "stale_data")
    assert summary(stale) == [
        ("stale_data", "firing", "info"),
        ("stale_data", "firing", "warning"),
        ("stale_data", "firing", "urgent"),
        ("stale_data", "resolved", "urgent"),
    ]
    assert [a.ts.strftime("%H:%M") for a in stale] == ["10:15", "10:30", "11:15", "11:20"]
    assert [a.page for a in stale] == [False, True, True, False]


def test_a_resent_event_id_is_ignored() -> None:
    t = session()
    t.vitals(5, heart_rate=115, event_id="e-1").vitals(6, heart_rate=70, event_id="e-1")
    t.vitals(25, heart_rate=70)
    # the resend (same id, other value) must not clear the alert: it resolves only 15 min after 10:25
    tachy = of(run(t, until_minutes=60), "tachycardia")
    assert [a.ts.strftime("%H:%M") for a in tachy if a.status.value == "resolved"] == ["10:40"]


def test_a_late_reading_does_not_clear_an_alert_raised_by_a_newer_one() -> None:
    t = session().vitals(10, spo2=90).vitals(6, spo2=98)  # the 10:06 reading arrives after 10:10
    hypox = of(run(t, until_minutes=40), "hypoxemia")
    assert "resolved" not in [a.status.value for a in hypox]


def test_replay_is_deterministic() -> None:
    t = session().infusion(30, "rate_change", 100).vitals(45, temperature_c=38.6).symptom(46, "chills")
    assert run(t, until_minutes=120) == run(t, until_minutes=120)


def test_until_moves_the_clock_so_due_timers_fire() -> None:
    t = session().vitals(5, heart_rate=155, spo2=98).vitals(15, spo2=98)  # the 15-minute set is taken
    assert len(of(run(t), "incident")) == 1
    later = run(t, until_minutes=60)
    episode = of(later, "tachycardia")[0].incident_id
    assert len([a for a in of(later, "incident") if a.alert_id == episode]) == 4  # opened, escalated x3


def test_hypoxemia_clears_once_saturation_is_back_to_normal() -> None:
    t = session().vitals(5, spo2=91)
    every_5_min(t, 40, spo2=97)
    hypox = of(run(t, until_minutes=60), "hypoxemia")
    assert [a.status.value for a in hypox][-1] == "resolved"


def test_a_worn_oximeter_sample_beyond_the_extreme_limit_still_waits_for_the_alarm_delay() -> None:
    # rule file 1.3.0: an extreme SpO2 (< 85 %) from a continuous stream is not paged at once (a
    # spot reading is): a 15-second motion artefact at 84 % closes without a page ...
    blip = session().vitals(10, spo2=97, mode="continuous").vitals(10.25, spo2=84, mode="continuous")
    blip.vitals(10.5, spo2=97, mode="continuous")
    assert not any(a.page for a in of(run(blip, until_minutes=20), "hypoxemia"))
    # ... while a stream that stays at 84 % past the alarm delay (20 s) pages within half a minute
    held = session()
    for second in range(0, 61, 15):
        held.vitals(10 + second / 60, spo2=84, mode="continuous")
    paged = [a for a in of(run(held, until_minutes=12), "hypoxemia") if a.page]
    assert paged and paged[0].severity.value == "urgent"
    assert (paged[0].ts - (START + timedelta(minutes=10))).total_seconds() <= 30
    spot = session().vitals(10, spo2=84)
    assert [a.page for a in of(run(spot, until_minutes=12), "hypoxemia")][:1] == [True]
