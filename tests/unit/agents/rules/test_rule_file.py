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
