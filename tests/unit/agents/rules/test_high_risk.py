"""high_risk_session (Part A): risk factors at the session's first event; reasons not to start."""

from __future__ import annotations

from tests.builders import Timeline, of, run, summary


def alerts(t: Timeline, until: float = 20) -> list[tuple[str, str, str]]:
    return summary(of(run(t, until_minutes=until), "high_risk_session"))


def test_risk_factors_give_an_info_at_the_first_event_naming_them_and_the_tightened_limits() -> None:
    t = Timeline().profile(risk_factors=["first_infusion", "renal_disease", "diabetes"])
    t.baseline(-10).start_infusion().vitals(5, spo2=98)
    hr = of(run(t, until_minutes=120), "high_risk_session")
    assert summary(hr) == [("high_risk_session", "firing", "info")]  # info: no escalation, no resolution
    alert = hr[0]
    assert alert.ts.strftime("%H:%M") == "09:50" and alert.evidence.phase == "pre"
    assert alert.alert_id == "s1:high_risk_session:1"
    assert alert.rule.id == "high_risk_session.risk_factors"
    assert "first_infusion, renal_disease" in alert.title
    assert "diabetes" not in alert.title  # not a tightening factor
    # the care schedule's 15-minute graces halved (no longer the 15/30-minute stale limits halved)
    assert "x0.75" in alert.action and "overdue 7.5 min after each set" in alert.action
    assert "x0.75" in alert.evidence.summary and "x0.5" in alert.evidence.summary


def test_no_tightening_factor_no_alert() -> None:
    t = Timeline().profile(risk_factors=["diabetes", "age_over_65"], epinephrine_available=True)
    assert alerts(t.baseline(-10).start_infusion()) == []
    assert alerts(Timeline().baseline(-10).start_infusion()) == []  # no profile at all


def test_the_start_is_the_first_event_when_nothing_came_before() -> None:
    t = Timeline().profile(risk_factors=["iga_deficiency"]).start_infusion()
    hr = of(run(t), "high_risk_session")
    assert [(a.severity.value, a.ts.strftime("%H:%M")) for a in hr] == [("info", "10:00")]


def test_no_epinephrine_at_home_is_urgent_do_not_start_even_without_risk_factors() -> None:
    t = Timeline().profile(epinephrine_available=False).baseline(-10).start_infusion()
    hr = of(run(t), "high_risk_session")
    assert summary(hr) == [("high_risk_session", "firing", "urgent")]
    assert hr[0].title.startswith("Do not start")
    assert hr[0].action.startswith("Do not start the infusion: ")
    assert hr[0].rule.id == "high_risk_session.no_epinephrine"


def test_risk_factors_and_no_epinephrine_make_one_urgent_alert_naming_both() -> None:
    t = Timeline().profile(risk_factors=["heart_disease"], epinephrine_available=False)
    hr = of(run(t.baseline(-10).start_infusion()), "high_risk_session")
    assert summary(hr) == [("high_risk_session", "firing", "urgent")]
    assert "heart_disease" in hr[0].evidence.summary and "epinephrine" in hr[0].evidence.summary


def test_epinephrine_unknown_is_not_a_reason_to_stop() -> None:
    assert alerts(Timeline().profile(weight_kg=70).baseline(-10).start_infusion()) == []


def test_baseline_temperature_38_known_at_start_raises_the_info_to_urgent_do_not_start() -> None:
    t = Timeline().profile(risk_factors=["long_gap"]).baseline(-10, temperature_c=38.0).start_infusion()
    hr = of(run(t, until_minutes=5), "high_risk_session")
    assert summary(hr) == [("high_risk_session", "firing", "info"), ("high_risk_session", "firing", "urgent")]
    assert {a.alert_id for a in hr} == {"s1:high_risk_session:1"}  # one alert, severity raised
    assert hr[1].ts.strftime("%H:%M") == "10:00"
    assert hr[1].rule.id == "high_risk_session.baseline_fever"
    assert hr[1].action.startswith("Do not start the infusion") and "38 C" in hr[1].action
    assert hr[1].evidence.values == {"temperature_c": 38.0}


def test_baseline_temperature_just_below_38_is_not_a_reason_to_stop() -> None:
    assert alerts(Timeline().baseline(-10, temperature_c=37.9).start_infusion()) == []


def test_baseline_from_the_first_minutes_after_start_is_checked_when_it_is_final() -> None:
    t = Timeline().start_infusion().vitals(5, temperature_c=38.3, spo2=98)
    hr = of(run(t, until_minutes=20), "high_risk_session")
    assert [(a.severity.value, a.ts.strftime("%H:%M")) for a in hr] == [("urgent", "10:15")]
    assert "38.3 C" in hr[0].action


def test_baseline_fever_is_checked_once_per_session() -> None:
    t = Timeline().baseline(-10, temperature_c=38.4).start_infusion()
    t.nurse(2, "resolve", "s1:high_risk_session:1").vitals(5, temperature_c=38.4, spo2=98)
    hr = of(run(t, until_minutes=40), "high_risk_session")
    assert [a.status.value for a in hr] == ["firing", "resolved"]


def test_a_profile_that_arrives_before_the_start_still_counts() -> None:
    t = Timeline().baseline(-20).profile(-15, risk_factors=["prior_reaction"]).baseline(-10).start_infusion()
    hr = of(run(t, until_minutes=5), "high_risk_session")
    assert [(a.severity.value, a.ts.strftime("%H:%M")) for a in hr] == [("info", "09:50")]


def test_a_profile_after_the_start_raises_nothing_but_still_tightens() -> None:
    t = Timeline().baseline(-10).start_infusion().profile(1, risk_factors=["first_infusion"])
    t.vitals(10, temperature_c=37.6, spo2=98)
    found = run(t, until_minutes=12)
    assert not of(found, "high_risk_session")
    assert of(found, "temperature_rise")
