"""respiratory_compromise (Part A): breathlessness with or without low SpO2 / fast breathing, and
the myasthenia caveat; at and just past each limit, in each phase."""

from __future__ import annotations

import pytest

from models.alerts import Alert
from tests.builders import Timeline, of, run, summary

STOP = 60
HOURS = 60


def session(**profile: object) -> Timeline:
    t = Timeline()
    if profile:
        t.profile(**profile)
    return t.baseline(-10).start_infusion()


def resp(t: Timeline, until: float | None = None) -> list[Alert]:
    return of(run(t, until_minutes=until), "respiratory_compromise")


def firing(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.severity.value, a.rule.id.split(".")[1]) for a in alerts if a.status.value == "firing"]


@pytest.mark.parametrize(("spo2", "expected"), [(93, "critical"), (94, "urgent")])
def test_wheezing_with_spo2_at_the_limit_is_critical_while_infusing(spo2: float, expected: str) -> None:
    t = session().vitals(18, spo2=spo2).symptom(20, "wheezing")
    assert [a.severity.value for a in resp(t)] == [expected]


@pytest.mark.parametrize(("rate", "expected"), [(21, "critical"), (20, "urgent")])
def test_shortness_of_breath_with_breathing_rate_at_the_limit(rate: float, expected: str) -> None:
    t = session().symptom(20, "shortness_of_breath").vitals(22, respiratory_rate=rate)
    assert [a.severity.value for a in resp(t)][-1] == expected


def test_the_critical_action_names_trali_taco_and_anaphylaxis() -> None:
    alert = resp(session().vitals(18, spo2=92).symptom(20, "shortness_of_breath"))[0]
    assert alert.rule.id == "respiratory_compromise.with_vitals"
    for words in ("transfusion-related lung injury", "volume overload", "anaphylaxis"):
        assert words in alert.action
    assert alert.evidence.values == {"spo2": 92} and alert.evidence.symptoms == ["shortness_of_breath"]


def test_alone_then_a_low_reading_raises_the_same_alert_to_critical() -> None:
    alerts = resp(session().symptom(20, "wheezing").vitals(25, spo2=93))
    assert firing(alerts) == [("urgent", "symptom_alone"), ("critical", "with_vitals")]
    assert {a.alert_id for a in alerts} == {"s1:respiratory_compromise:1"}
    assert alerts[0].action.startswith("Measure SpO2 and breathing rate now.")


def test_a_reading_more_than_30_minutes_away_is_not_together() -> None:
    t = session().vitals(5, spo2=93).symptom(36, "wheezing")
    assert firing(resp(t)) == [("urgent", "symptom_alone")]


def test_post_early_keeps_the_infusion_severities() -> None:
    early = STOP + 5 * HOURS
    t = session().infusion(STOP, "stop").vitals(early, spo2=93).symptom(early + 1, "wheezing")
    t.symptom(early + 2, "shortness_of_breath")
    alerts = resp(t)
    assert firing(alerts) == [("critical", "with_vitals")]
    assert alerts[0].evidence.phase == "post-early"


def test_post_late_with_low_spo2_is_urgent_and_alone_a_warning() -> None:
    late = STOP + 13 * HOURS  # past the rule file's 12 h of post-early severities
    low = session().infusion(STOP, "stop").vitals(late, spo2=92).symptom(late + 1, "shortness_of_breath")
    alone = session().infusion(STOP, "stop").symptom(late, "wheezing")
    assert firing(resp(low)) == [("urgent", "with_vitals")]
    assert firing(resp(alone)) == [("warning", "symptom_alone")]
    assert resp(alone)[0].evidence.phase == "post-late"


@pytest.mark.parametrize("hours", [6.5, 11.9])
def test_through_12_hours_after_the_stop_it_keeps_the_post_early_severities(hours: float) -> None:
    """Breathing trouble of volume overload (TACO) comes up to 12 h after the stop (ISBT): reported
    alone it is urgent, with a low SpO2 critical, though the phase is post-late."""
    late = STOP + hours * HOURS
    low = session().infusion(STOP, "stop").vitals(late, spo2=92).symptom(late + 1, "shortness_of_breath")
    alone = session().infusion(STOP, "stop").symptom(late, "wheezing")
    assert firing(resp(low)) == [("critical", "with_vitals")]
    assert firing(resp(alone)) == [("urgent", "symptom_alone")]
    assert resp(alone)[0].evidence.phase == "post-late"


def test_before_the_start_it_takes_the_later_severities() -> None:
    t = Timeline().baseline(-20).symptom(-15, "wheezing").vitals(-12, spo2=93)
    assert firing(resp(t)) == [("warning", "symptom_alone"), ("urgent", "with_vitals")]


def test_symptom_raised_alerts_never_resolve_by_themselves() -> None:
    t = session().symptom(20, "shortness_of_breath").vitals(21, spo2=93)
    for minute in range(25, 120, 5):
        t.vitals(minute, spo2=98, respiratory_rate=14)
    assert "resolved" not in [a.status.value for a in resp(t, until=180)]


def test_other_symptoms_are_not_respiratory() -> None:
    assert resp(session().symptom(20, "throat_tightness").symptom(21, "chills").vitals(22, spo2=92)) == []


# --- myasthenia gravis ----------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "fires"), [(20, True), (19, False)])  # baseline 14: +6 / +5
def test_myasthenia_breathing_rate_6_over_baseline_is_urgent_with_normal_spo2(
    rate: float, fires: bool
) -> None:
    t = session(myasthenia_gravis=True).vitals(10, respiratory_rate=rate, spo2=98)
    alerts = resp(t)
    assert firing(alerts) == ([("urgent", "myasthenia")] if fires else [])
    if fires:
        assert "myasthenia" in alerts[0].action.lower()
        assert alerts[0].evidence.values == {"respiratory_rate": 20}
        assert alerts[0].evidence.baseline == {"respiratory_rate": 14}


def test_the_same_rise_without_myasthenia_is_not_respiratory_compromise() -> None:
    assert resp(session(myasthenia_gravis=False).vitals(10, respiratory_rate=20, spo2=98)) == []


def test_high_risk_tightens_the_myasthenia_rise_like_every_baseline_relative_limit() -> None:
    t = session(myasthenia_gravis=True, risk_factors=["first_infusion"])
    t.vitals(10, respiratory_rate=19, spo2=98)
    assert firing(resp(t)) == [("urgent", "myasthenia")]  # +5 >= 6 x 0.75


@pytest.mark.parametrize("name", ["swallowing_difficulty", "weak_cough", "shortness_of_breath"])
def test_myasthenia_symptoms_are_urgent(name: str) -> None:
    alerts = resp(session(myasthenia_gravis=True).symptom(20, name))
    assert [a.severity.value for a in alerts] == ["urgent"]
    assert alerts[0].rule.id in {"respiratory_compromise.myasthenia", "respiratory_compromise.symptom_alone"}


def test_myasthenia_shortness_of_breath_stays_urgent_in_post_late() -> None:
    t = session(myasthenia_gravis=True).infusion(STOP, "stop")
    t.symptom(STOP + 13 * HOURS, "shortness_of_breath")
    assert firing(resp(t)) == [("urgent", "myasthenia")]


def test_bulbar_symptoms_without_myasthenia_raise_nothing() -> None:
    assert resp(session().symptom(20, "swallowing_difficulty").symptom(21, "weak_cough")) == []


def test_myasthenia_rise_resolves_15_minutes_after_the_rate_is_back_past_hysteresis() -> None:
    t = session(myasthenia_gravis=True).vitals(5, respiratory_rate=21, spo2=98)
    t.vitals(10, respiratory_rate=16, spo2=98)  # +2: within the 5/min hysteresis band, still holding
    for minute in range(15, 50, 5):
        t.vitals(minute, respiratory_rate=14, spo2=98)
    alerts = resp(t, until=60)
    assert summary(alerts)[-1] == ("respiratory_compromise", "resolved", "urgent")
    assert alerts[-1].ts.strftime("%H:%M") == "10:30"


def test_myasthenia_rise_with_a_symptom_does_not_resolve_by_itself() -> None:
    t = session(myasthenia_gravis=True).vitals(5, respiratory_rate=21, spo2=98).symptom(6, "weak_cough")
    for minute in range(10, 60, 5):
        t.vitals(minute, respiratory_rate=14, spo2=98)
    assert "resolved" not in [a.status.value for a in resp(t, until=90)]
