"""`ivigwatch cohort` as a user runs it: figures on stdout, progress on stderr, rerunnable."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from streams.apps.cli.cohort_cmd import DEFAULT_SEED
from streams.apps.cli.main import app

runner = CliRunner()


def test_cohort_prints_the_figures_with_its_seed_and_parameters() -> None:
    result = runner.invoke(app, ["cohort", "--sessions", "3", "--serious-share", "0.5"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"3 sessions, seed {DEFAULT_SEED}, serious share 0.5" in out
    assert "ISO 81060-2" in out and "ISO 80601-2-61" in out and "ISO 80601-2-56" in out
    assert "pages per 100 uneventful infusion-hours" in out and "per post-infusion patient-day" in out
    assert "sensitivity" in out
    assert "cohort: 3 sessions in" in result.stderr


def test_cohort_json_is_the_same_on_a_rerun() -> None:
    args = ["cohort", "--sessions", "3", "--seed", "5", "--json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    figures = json.loads(first.stdout)
    assert figures == json.loads(second.stdout)
    assert figures["seed"] == 5 and figures["sessions"] == 3
    assert figures["burden"]["sessions"] + figures["serious_events"][-1]["events"] == 3
    assert {p["name"] for p in figures["parameters"]} >= {"care schedule", "nurse", "repeat on request"}


def test_cohort_refuses_a_bad_rule_file(tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("[ruleset\n")
    result = runner.invoke(app, ["cohort", "--sessions", "1", "--rules", str(bad)])
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr
