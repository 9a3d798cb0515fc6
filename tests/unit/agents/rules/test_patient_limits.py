"""Per-patient limits and snoozes (issue 16): bounds, expiry, and never a critical row, a composite, a
symptom row or an extreme value."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from agents.rules.loader import load_rules
from agents.rules.patient_limits import problems
from models.events import NurseAction
from models.ruleset import RuleSet
from streams.apps.replay import LineError, replay
from tests.builders import START, Timeline, confirmed, of, run

RULES = load_rules()


def course() -> Timeline:
    return Timeline().baseline().start_infusion()


def action(kind: str, hours: float = 4, **setting: Any) -> NurseAction:
    until = (START + timedelta(hours=hours)).isoformat()
    data: dict[str, Any] = {"type": kind, "patient_id": "pt-1", "by": "rn-1", "ts": START.isoformat()}
    data[kind] = {"until": until, "reason": "usual value", **setting}
    return NurseAction.model_validate(data)


def test_a_limit_or_snooze_names_what_it_sets_and_needs_a_reason_and_an_expiry() -> None:
    assert action("limit", vital="spo2", side="low", value=91).alert_id == "pt-1:limit:spo2:low"
    assert action("snooze", condition="hypoxemia").alert_id == "pt-1:snooze:hypoxemia"
    ended = {"type": "snooze", "patient_id": "pt-1", "by": "rn-1", "ts": START.isoformat()}
    assert NurseAction.model_validate({**ended, "snooze": {"condition": "hypoxemia", "clear": True}})
    for setting in ({"condition": "hypoxemia", "reason": "x"}, {"condition": "hypoxemia", "until": "x"}):
        with pytest.raises(ValidationError):
            NurseAction.model_validate({**ended, "snooze": setting})
    with pytest.raises(ValidationError):  # a limit's fields on a snooze
        NurseAction.model_validate({**ended, "type": "limit", "snooze": {"condition": "x", "clear": True}})


@pytest.mark.parametrize(
    ("kind", "setting", "hours", "code"),
    [
        ("limit", {"vital": "spo2", "side": "low", "value": 87}, 4, "limit_out_of_bounds"),
        ("limit", {"vital": "spo2", "side": "low", "value": 95}, 4, "limit_out_of_bounds"),
        ("limit", {"vital": "systolic_bp", "side": "high", "value": 185}, 4, "limit_out_of_bounds"),
        ("limit", {"vital": "temperature_c", "side": "high", "value": 38.5}, 4, "limit_not_allowed"),
        ("limit", {"vital": "spo2", "side": "high", "value": 91}, 4, "limit_not_allowed"),
        ("limit", {"vital": "spo2", "side": "low", "value": 91}, 169, "limit_too_long"),
        ("limit", {"vital": "spo2", "side": "low", "value": 91}, -1, "limit_expired"),
        ("snooze", {"condition": "hypoxemia"}, 13, "snooze_too_long"),
        ("snooze", {"condition": "hypotension", "rule": "hypotension.absolute"}, 4, "not_snoozable"),
        ("snooze", {"condition": "hypertension", "rule": "hypertension.red_band"}, 4, "not_snoozable"),
        ("snooze", {"condition": "anaphylaxis"}, 4, "not_snoozable"),
        ("snooze", {"condition": "respiratory_compromise"}, 4, "not_snoozable"),
        ("snooze", {"condition": "early_warning_score"}, 4, "not_snoozable"),
        ("snooze", {"condition": "aseptic_meningitis"}, 4, "not_snoozable"),  # a symptom row
        ("snooze", {"condition": "no_such_thing"}, 4, "not_snoozable"),
    ],
)
def test_out_of_bounds_critical_composite_and_symptom_settings_are_refused(
    kind: str, setting: dict[str, Any], hours: float, code: str
) -> None:
    errors = problems(action(kind, hours, **setting), RULES)
    assert len(errors) == 1 and errors[0].endswith(f"[{code}]"), errors
    assert "usual value" not in errors[0]


def test_within_bounds_is_taken_and_a_rule_file_without_bounds_takes_none() -> None:
    assert problems(action("limit", vital="spo2", side="low", value=88), RULES) == []
    assert problems(action("snooze", hours=12, condition="hypotension"), RULES) == []
    assert problems(action("snooze", condition="tachycardia", rule="tachycardia.rise_30"), RULES) == []
    bare = RuleSet.model_validate({**RULES.model_dump(), "patient_limits": None})
    assert problems(action("snooze", condition="hypoxemia"), bare)[0].endswith("[snooze_not_allowed]")


def test_rule_file_bounds_must_move_a_row_and_stay_short_of_the_extreme_limits() -> None:
    data = RULES.model_dump()
    bound = {"vital": "spo2", "side": "low", "min": 85, "max": 92, "source": "a test"}
    for bad, words in ((bound, "extreme limit 85"), ({**bound, "side": "high"}, "no warning or urgent")):
        data["patient_limits"] = {**data["patient_limits"], "bounds": [bad]}
        with pytest.raises(ValidationError, match=words):
            RuleSet.model_validate(data)


def test_a_usual_spo2_of_91_pages_only_below_it_and_says_so() -> None:
    without = run(course().vitals(30, spo2=91).vitals(31, spo2=91))
    assert confirmed(of(without, "hypoxemia"))
    limited = course().limit(20, "spo2", "low", 91).vitals(30, spo2=91).vitals(31, spo2=91)
    assert of(run(limited), "hypoxemia") == []
    alerts = confirmed(of(run(limited.vitals(40, spo2=89).vitals(41, spo2=89)), "hypoxemia"))
    assert alerts and alerts[0].severity.value == "urgent"
    assert "patient limit SpO2 < 91 set by rn-1 until 2026-11-24 18:20 UTC, reason: usual value" in (
        alerts[0].evidence.summary
    )


def test_a_limit_expires_by_itself_and_ends_early_when_cleared() -> None:
    expired = course().limit(20, "spo2", "low", 91, hours=0.5).vitals(60, spo2=91).vitals(61, spo2=91)
    assert confirmed(of(run(expired), "hypoxemia"))
    cleared = course().limit(20, "spo2", "low", 91)
    cleared._add(40, type="limit", by="rn-1", limit={"vital": "spo2", "side": "low", "clear": True})
    assert confirmed(of(run(cleared.vitals(60, spo2=91).vitals(61, spo2=91)), "hypoxemia"))


def test_a_late_reading_timed_before_the_limit_is_not_covered() -> None:
    line = course().limit(20, "spo2", "low", 91)
    line.vitals(10, spo2=91).vitals(11, spo2=91)  # timed before the limit: it does not apply
    assert confirmed(of(run(line), "hypoxemia"))


def test_a_limit_belongs_to_the_patient_across_sessions() -> None:
    day1 = course().limit(20, "spo2", "low", 91, hours=30)
    day2 = Timeline(session="s2", start=START + timedelta(hours=24)).baseline(spo2=91).start_infusion()
    day2.vitals(30, spo2=91).vitals(31, spo2=91)
    assert of(run(day1, day2), "hypoxemia") == []


def test_a_snooze_never_silences_critical_rows_or_extreme_values() -> None:
    snoozed = course().snooze(20, "hypoxemia").vitals(30, spo2=88).vitals(31, spo2=88)
    assert of(run(snoozed), "hypoxemia") == []
    alerts = of(run(snoozed.vitals(40, spo2=84)), "hypoxemia")  # beyond the extreme limit (< 85)
    assert alerts and "hypoxemia snoozed by rn-1" in alerts[0].evidence.summary
    low = course().snooze(20, "hypotension").vitals(30, systolic_bp=100).vitals(31, systolic_bp=100)
    assert of(run(low), "hypotension") == []  # the 20 mmHg fall (a warning row) is snoozed
    critical = of(run(low.vitals(40, systolic_bp=85).vitals(41, systolic_bp=85)), "hypotension")
    assert critical and critical[-1].severity.value == "critical"


def test_a_limit_never_moves_a_composite() -> None:
    def news2(line: Timeline) -> list[tuple[str, str]]:
        return [(a.status.value, a.severity.value) for a in of(run(line), "early_warning_score")]

    def readings(line: Timeline) -> Timeline:
        return line.vitals(
            30, spo2=91, heart_rate=115, respiratory_rate=22, systolic_bp=122, temperature_c=37
        )

    plain = news2(readings(course()))
    assert plain and plain == news2(readings(course().limit(20, "spo2", "low", 91).snooze(20, "tachycardia")))


def test_replay_refuses_a_setting_the_rule_file_does_not_allow() -> None:
    line = course().snooze(20, "anaphylaxis")
    lines = sorted(line.lines(), key=lambda text: json.loads(text)["ts"])
    errors = [item for item in replay(lines, RULES) if isinstance(item, LineError)]
    assert len(errors) == 1 and "[not_snoozable]" in errors[0].reason


def test_limits_and_snoozes_are_kept_in_the_stored_state() -> None:
    from agents.rules.engine import new_state, process
    from agents.rules.patient_limits import apply
    from models.state import PatientState

    state = new_state("pt-1")
    process(state, action("limit", vital="spo2", side="low", value=91), START, RULES)
    apply(state, action("snooze", condition="hypoxemia"), RULES)
    stored = PatientState.model_validate_json(state.model_dump_json())
    assert [(x.vital, x.value) for x in stored.limits] == [("spo2", 91)]
    assert [x.condition.value for x in stored.snoozes] == ["hypoxemia"]


def test_a_limit_on_one_vital_never_delays_a_critical_page_that_vital_corroborates() -> None:
    """A heart rate within the patient's own limit (125) is still past the rule file's row: it still
    corroborates a lone systolic of 85, which pages at once as without the limit."""

    def first_pages(line: Timeline) -> list[tuple[str, float]]:
        return [
            (a.condition.value, (a.ts - START).total_seconds() / 60)
            for a in run(line)
            if a.page and a.condition.value in ("hypotension", "anaphylaxis")
        ][:1]

    def readings(line: Timeline) -> Timeline:
        return line.vitals(30, systolic_bp=85, heart_rate=120)

    plain = first_pages(readings(Timeline().baseline(heart_rate=100).start_infusion()))
    limited = Timeline().baseline(heart_rate=100).start_infusion().limit(20, "heart_rate", "high", 125)
    assert plain and plain[0][1] == 30
    assert first_pages(readings(limited)) == plain
