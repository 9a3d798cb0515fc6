"""Confirming a lone reading (issue 14): what a repeat decides, and how long a warning waits."""

from __future__ import annotations

from agents.rules.loader import load_rules
from models.alerts import Alert
from models.ruleset import RuleSet
from tests.builders import Timeline, of, run


def session() -> Timeline:
    return Timeline().baseline(-10).start_infusion()


def shown(alerts: list[Alert]) -> list[tuple[float, str, str, str, bool, bool]]:
    """(minute, status, severity, rule, pending, page) per message of one condition."""
    return [
        (a.ts.minute + a.ts.second / 60, a.status.value, a.severity.value, a.rule.id, a.pending, a.page)
        for a in alerts
    ]


def pages(alerts: list[Alert]) -> list[tuple[float, str, str]]:
    """(minute, condition, severity) of every page (a warning pages through its incident after the
    group wait)."""
    return [(a.ts.minute + a.ts.second / 60, a.condition.value, a.severity.value) for a in alerts if a.page]


def with_warning_delay(minutes: float) -> RuleSet:
    rules = load_rules()
    confirmation = rules.confirmation.model_copy(update={"warning_delay_minutes": minutes})
    return rules.model_copy(update={"confirmation": confirmation})


def test_a_repeat_back_inside_the_limit_closes_a_lone_finding_though_within_the_hysteresis() -> None:
    # SpO2 93 alone waits; the repeat reads 94: not past the limit (93), though within its 1-point
    # hysteresis. It closes the finding (no page), instead of leaving it to page at 3 minutes as
    # "unconfirmed: no repeat reading" when a repeat did come.
    t = session().vitals(20, spo2=93).vitals(21, spo2=94)
    hypoxemia = of(run(t, until_minutes=40), "hypoxemia")
    assert shown(hypoxemia) == [
        (20, "firing", "warning", "hypoxemia.band_92_93", True, False),
        (21, "resolved", "warning", "hypoxemia.band_92_93", True, False),
    ]


def test_a_repeat_still_past_the_limit_confirms_and_pages() -> None:
    t = session().vitals(20, spo2=93).vitals(21, spo2=93)
    alerts = run(t, until_minutes=40)
    assert [(m, s, p) for m, s, _, _, p, _ in shown(of(alerts, "hypoxemia"))][:2] == [
        (20, "firing", True),
        (21, "firing", False),  # confirmed: no longer pending
    ]
    assert pages(alerts) == [
        (22, "incident", "warning")
    ]  # the warning, 2 min (group wait) after its evidence


def test_a_repeat_past_a_lower_limit_only_confirms_the_lower_severity() -> None:
    # a lone SpO2 88 (urgent, red band) repeated at 93: the patient is at the warning band, and the
    # nurse is asked to act on that, not on the urgent reading nothing confirmed
    # (the baseline 5 min before the start keeps a full NEWS2 set within 30 min at the repeat: the
    # red score of the lone 88 waits with it and closes when the repeat scores 2)
    t = Timeline().baseline(-5).start_infusion().vitals(20, spo2=88).vitals(21, spo2=93)
    alerts = run(t, until_minutes=40)
    assert shown(of(alerts, "hypoxemia"))[:2] == [
        (20, "firing", "urgent", "hypoxemia.red_band", True, False),
        (21, "firing", "warning", "hypoxemia.band_92_93", False, False),
    ]
    assert pages(alerts) == [(22, "incident", "warning")]  # not an urgent page


def test_a_lone_warning_waits_the_warning_delay_for_its_repeat() -> None:
    # with warning_delay_minutes = 10, a repeat 6 minutes later still decides a lone warning
    rules = with_warning_delay(10)
    t = session().vitals(20, spo2=93).vitals(26, spo2=96)
    alerts = run(t, until_minutes=40, rules=rules)
    assert [(m, s, p) for m, s, _, _, _, p in shown(of(alerts, "hypoxemia"))] == [
        (20, "firing", False),
        (26, "resolved", False),
    ]
    assert pages(alerts) == []
    # ... and with no repeat it pages as unconfirmed after those 10 minutes
    t = session().vitals(20, spo2=93)
    last = of(run(t, until_minutes=40, rules=rules), "hypoxemia")[-1]
    assert (last.ts.minute, last.page, last.title.startswith("Unconfirmed")) == (30, True, True)
    assert "within 10 min" in last.evidence.summary


def test_an_urgent_lone_reading_keeps_the_short_delay() -> None:
    rules = with_warning_delay(10)
    t = session().vitals(20, spo2=88)
    assert pages(run(t, until_minutes=22, rules=rules)) == []
    assert pages(run(t, until_minutes=40, rules=rules))[:1] == [(23, "hypoxemia", "urgent")]


def test_a_stream_back_inside_the_limit_closes_its_pending_finding() -> None:
    # a worn oximeter reads 90 once (an artefact), then 92 and 95: the stream did not stay past the
    # red band for the alarm delay; it was at the warning band for 15 s, then normal
    t = session()
    for seconds, spo2 in ((0, 90), (15, 92), (30, 95), (45, 96)):
        t.vitals(20 + seconds / 60, spo2=spo2, mode="continuous")
    alerts = run(t, until_minutes=40)
    assert pages(alerts) == []
    assert [(s, sev, p) for _, s, sev, _, p, _ in shown(of(alerts, "hypoxemia"))] == [
        ("firing", "urgent", True),
        ("resolved", "warning", True),  # closed at 95, never paged
    ]


def test_a_stream_that_stays_at_a_lower_band_confirms_that_band_only() -> None:
    t = session()
    for seconds, spo2 in ((0, 90), (15, 92), (30, 92), (45, 92)):
        t.vitals(20 + seconds / 60, spo2=spo2, mode="continuous")
    alerts = run(t, until_minutes=40)
    hypoxemia = [(sev, p) for _, s, sev, _, p, _ in shown(of(alerts, "hypoxemia")) if s == "firing"]
    assert hypoxemia[-1] == ("warning", False)  # confirmed at the warning band
    assert {sev for _, _, sev in pages(alerts)} == {"warning"}
