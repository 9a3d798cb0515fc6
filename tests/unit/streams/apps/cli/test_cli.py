"""The command line as a user meets it: replay output and errors, the alert line a nurse reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.rules.loader import DEFAULT_RULES_FILE, load_rules
from models.alerts import Alert
from models.patient_messages import PatientMessage
from streams.apps.cli.alerts_cmd import render
from streams.apps.cli.main import app
from streams.infra.settings import get_settings
from tests.builders import Timeline

runner = CliRunner()


def replay_file(tmp_path: Path) -> Path:
    t = Timeline().baseline(-10).start_infusion().symptom(20, "hives").symptom(22, "wheezing", "severe")
    lines = t.lines()
    lines.insert(2, '{"type": "vitals", "patient_id": "pt-1"')  # truncated line
    path = tmp_path / "session.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_prints_alerts_as_jsonl_and_reports_bad_lines_with_their_number(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(replay_file(tmp_path))])
    assert result.exit_code == 0
    alerts = [Alert.model_validate_json(line) for line in result.stdout.splitlines()]
    assert ("anaphylaxis", "critical") in [(a.condition.value, a.severity.value) for a in alerts]
    assert "line 3: (message): not valid JSON [json_invalid]" in result.stderr


def test_replay_with_patient_messages_tags_every_line_with_its_topic(tmp_path: Path) -> None:
    path = replay_file(tmp_path)
    plain = runner.invoke(app, ["replay", str(path)])
    tagged = runner.invoke(app, ["replay", str(path), "--patient-messages"])
    assert tagged.exit_code == 0
    lines = [json.loads(line) for line in tagged.stdout.splitlines()]
    assert {line["topic"] for line in lines} == {"ivig.alerts.v1", "ivig.patient.v1"}
    assert all(line["key"] == "pt-1" for line in lines)
    alerts = [
        json.dumps(line["value"], separators=(",", ":"))
        for line in lines
        if line["topic"] == "ivig.alerts.v1"
    ]
    assert [Alert.model_validate_json(a) for a in alerts] == [
        Alert.model_validate_json(a) for a in plain.stdout.splitlines()
    ], "the alert messages differ with the patient's added"
    told = [
        PatientMessage.model_validate(line["value"]) for line in lines if line["topic"] == "ivig.patient.v1"
    ]
    assert any(m.instructions and "epinephrine" in m.text for m in told)  # hives with severe wheezing
    assert "ivig.patient.v1" not in plain.stdout


def test_replay_until_moves_the_clock_and_is_repeatable(tmp_path: Path) -> None:
    path = replay_file(tmp_path)
    first = runner.invoke(app, ["replay", str(path), "--until", "2026-11-24T12:00:00Z"])
    second = runner.invoke(app, ["replay", str(path), "--until", "2026-11-24T12:00:00Z"])
    assert first.stdout == second.stdout
    statuses = [json.loads(line)["status"] for line in first.stdout.splitlines()]
    assert "escalated" in statuses


def test_replay_refuses_a_bad_rule_file_naming_the_row(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(DEFAULT_RULES_FILE.read_text().replace("at_least = 131", "at_least = 'x'"))
    result = runner.invoke(app, ["replay", str(replay_file(tmp_path)), "--rules", str(rules)])
    assert result.exit_code == 2
    assert "id=tachycardia.red_band" in result.stderr and "at_least" in result.stderr


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_alert_line_says_who_what_why_and_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(replay_file(tmp_path))])
    alert = next(
        a
        for a in map(Alert.model_validate_json, result.stdout.splitlines())
        if a.condition.value == "anaphylaxis"
    )
    text = render(alert).plain
    assert "CRITICAL" in text and "FIRING" in text and "pt-1" in text
    assert "why: Anaphylaxis criteria met" in text
    assert "do:  Stop the infusion now" in text


def test_rules_show_lists_every_row_with_its_source_and_the_version() -> None:
    result = runner.invoke(app, ["rules", "show"])
    assert result.exit_code == 0, result.stderr
    rules = load_rules()
    assert f"version {rules.version}" in result.stdout
    for row_id in [r.id for r in rules.threshold] + [r.id for r in rules.symptom_rule]:
        assert row_id in result.stdout
    assert "RCP NEWS2 Chart 4" in result.stdout and "NEWS2 rounding: round half up" in result.stdout


def test_rules_check_accepts_the_default_file_and_names_row_and_field_of_a_bad_one(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["rules", "check", str(DEFAULT_RULES_FILE)])
    assert ok.exit_code == 0 and "OK" in ok.stdout
    bad = tmp_path / "proposed.toml"
    bad.write_text(DEFAULT_RULES_FILE.read_text().replace("at_least = 39.0", "at_least = 'hot'"))
    refused = runner.invoke(app, ["rules", "check", str(bad)])
    assert refused.exit_code == 2
    assert "threshold[1] (id=fever.high).at_least" in refused.stderr


def test_replay_under_a_proposed_rule_file_shows_what_it_would_page(tmp_path: Path) -> None:
    events = tmp_path / "session.jsonl"
    t = Timeline().baseline(-10).start_infusion()
    for minute in range(5, 30, 5):
        t.vitals(minute, temperature_c=37.9, spo2=98)
    events.write_text("\n".join(t.lines()) + "\n")
    stricter = tmp_path / "stricter.toml"
    row = 'id = "temperature_rise.mild"\ncondition = "temperature_rise"\nvital = "temperature_c"\n'
    text = DEFAULT_RULES_FILE.read_text()
    assert text.count(row + "rise_at_least = 1.0") == 1
    stricter.write_text(text.replace(row + "rise_at_least = 1.0", row + "rise_at_least = 2.0"))
    default = runner.invoke(app, ["replay", str(events)])
    proposed = runner.invoke(app, ["replay", str(events), "--rules", str(stricter)])
    assert "temperature_rise" in default.stdout
    assert "temperature_rise" not in proposed.stdout


def test_a_bad_rule_file_stops_the_rules_worker_before_it_connects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "proposed.toml"
    bad.write_text(DEFAULT_RULES_FILE.read_text().replace("at_least = 39.0", "at_least = 'hot'"))
    monkeypatch.setenv("IVIGWATCH_RULES_FILE", str(bad))
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # nothing listens: must not get there
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["worker", "rules"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot start the rules worker" in result.stderr and "id=fever.high" in result.stderr
