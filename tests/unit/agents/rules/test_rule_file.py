"""The new rule-file tables are validated at load; a bad row names the row and the field."""

from __future__ import annotations

import pytest

from agents.rules.loader import DEFAULT_RULES_FILE, RuleFileError, load_rules, parse_rules
from models.alerts import Severity
from models.ruleset import Phase

TEXT = DEFAULT_RULES_FILE.read_text(encoding="utf-8")


def broken(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, old
    with pytest.raises(RuleFileError) as raised:
        parse_rules(TEXT.replace(old, new))
    return str(raised.value)


def test_the_default_file_holds_the_new_tables() -> None:
    rules = load_rules()
    table = rules.respiratory_compromise
    assert table.with_vitals.severity[Phase.INFUSING] is Severity.CRITICAL
    assert table.with_vitals.severity[Phase.POST_LATE] is Severity.URGENT
    assert table.alone.severity[Phase.POST_EARLY] is Severity.URGENT
    assert table.alone.severity[Phase.POST_LATE] is Severity.WARNING
    assert set(table.myasthenia.severity) == {Phase.PRE, Phase.INFUSING, Phase.POST_EARLY, Phase.POST_LATE}
    assert rules.high_risk_session.tightened.severity is Severity.INFO
    assert rules.high_risk_session.baseline_fever.temperature_at_least == 38.0
    for row in (
        table.with_vitals,
        table.alone,
        table.myasthenia,
        rules.high_risk_session.tightened,
        rules.high_risk_session.no_epinephrine,
        rules.high_risk_session.baseline_fever,
    ):
        assert row.source


def test_a_bad_threshold_names_table_row_and_field() -> None:
    message = broken("temperature_at_least = 38.0", "temperature_at_least = 'hot'")
    assert "high_risk_session.baseline_fever.temperature_at_least" in message


def test_an_unknown_phase_in_a_severity_table_is_named() -> None:
    message = broken('"post-late" = "warning" }', '"post-late" = "warning", later = "info" }')
    assert "respiratory_compromise.alone.severity.later" in message


def test_no_rule_applies_after_post_late() -> None:
    message = broken('"post-late" = "warning" }', '"post-late" = "warning", after = "info" }')
    assert "respiratory_compromise.alone.severity" in message and "after" in message


def test_an_unknown_placeholder_in_a_high_risk_text_is_named() -> None:
    message = broken(
        'title = "High-risk session ({risk_factors}): limits tightened"',
        'title = "High-risk session ({rate_advice})"',
    )
    assert "high_risk_session.tightened.title" in message and "rate_advice" in message


def test_do_not_start_must_outrank_the_info() -> None:
    old = 'id = "high_risk_session.no_epinephrine"\nseverity = "urgent"'
    message = broken(old, old.replace('"urgent"', '"info"'))
    assert "high_risk_session" in message and "no_epinephrine.severity" in message


def test_an_unknown_symptom_is_named() -> None:
    message = broken(
        'symptoms = ["swallowing_difficulty", "weak_cough", "shortness_of_breath"]',
        'symptoms = ["swallowing_difficulty", "hiccups"]',
    )
    assert "respiratory_compromise.myasthenia.symptoms" in message


def test_every_row_names_its_source() -> None:
    rules = load_rules()
    rows = [*rules.threshold, *rules.symptom_rule, *rules.early_warning_score.tiers]
    assert all(len(row.source) > 3 for row in rows)
    assert rules.stale_data.source and rules.baseline.source and rules.early_warning_score.source


def test_news2_bands_must_rise() -> None:
    message = broken("{ up_to = 11, score = 1 }, { up_to = 20", "{ up_to = 21, score = 1 }, { up_to = 20")
    assert "early_warning_score.bands" in message and "respiratory_rate" in message


def test_news2_scores_stay_between_0_and_3() -> None:
    message = broken("{ up_to = 219, score = 0 }", "{ up_to = 219, score = 4 }")
    assert "early_warning_score.bands.systolic_bp" in message


def test_a_symptom_row_raised_severity_needs_its_clause() -> None:
    message = broken('raised_with = { vital = "systolic_bp", below = 90 }\n', "")
    assert "symptom_rule[0] (id=hypotension.fainting)" in message and "raised_with" in message


def test_a_severe_group_needs_a_severe_score() -> None:
    message = broken("until_hours_after_stop = 168\nsevere_score = 7\n", "until_hours_after_stop = 168\n")
    assert "aseptic_meningitis.headache_meningism" in message and "severe_score" in message


def test_a_windowed_row_cannot_also_compare_with_the_baseline() -> None:
    message = broken("window_hours = 48\n", "window_hours = 48\nbaseline_at_least = 60\n")
    assert "renal_injury.weight_gain" in message and "window_hours" in message


def test_a_windowed_row_cannot_ask_for_a_baseline_before_the_start() -> None:
    message = broken("window_hours = 48\n", "window_hours = 48\nbaseline_before_start = true\n")
    assert "renal_injury.weight_gain" in message and "baseline_before_start" in message


def test_an_anaphylaxis_episode_gap_must_outlast_the_together_window() -> None:
    message = broken("new_episode_after_hours = 1\n", "new_episode_after_hours = 0.5\n")
    assert "new_episode_after_hours" in message and "together_minutes" in message


def test_row_ids_are_unique_across_thresholds_and_symptom_rows() -> None:
    message = broken('id = "hemolysis.dark_urine"', 'id = "fever.high"')
    assert "fever.high" in message
