"""`ivigwatch roster check|who` as an operator meets it: exit 0 clean, 1 with warnings, 2 when bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.roster_file import EXAMPLE_ROSTER_FILE, load_roster
from streams.apps.cli.main import app
from streams.infra.settings import get_settings

runner = CliRunner()
ALL_WEEK = '"mon", "tue", "wed", "thu", "fri", "sat", "sun"'


def test_check_accepts_the_example_and_lists_the_secrets_it_needs() -> None:
    ok = runner.invoke(app, ["roster", "check", str(EXAMPLE_ROSTER_FILE), "--from", "2026-12-20T00:00:00Z"])
    assert ok.exit_code == 0, ok.output
    assert "valid, roster example-home-infusion" in ok.stdout
    assert "No gap in the next 14 days" in ok.stdout
    assert "rn-ana-ntfy-topic-url" in ok.stdout


def test_check_warns_about_gaps_and_unknown_people(tmp_path: Path) -> None:
    text = EXAMPLE_ROSTER_FILE.read_text()
    assert text.count(ALL_WEEK) == 5
    # Ben's nights as primary only on weekdays, and a swap naming someone not on the roster.
    night = f'person = "rn-ben"\ndays = [{ALL_WEEK}]\nstart = "20:00"'
    assert text.count(night) == 1
    text = text.replace(night, night.replace(ALL_WEEK, '"mon", "tue", "wed", "thu", "fri"'))
    text = text.replace('with = "rn-ben"', 'with = "rn-dan"')
    gappy = tmp_path / "gappy.toml"
    gappy.write_text(text)
    warned = runner.invoke(
        app, ["roster", "check", str(gappy), "--from", "2026-12-07T00:00:00-05:00", "--days", "7"]
    )
    assert warned.exit_code == 1, warned.output
    lines = [line.strip() for line in warned.stdout.splitlines() if "WARNING" in line]
    assert lines == [
        "WARNING: swaps[0].with names rn-dan, who is not in [[people]]",
        # Sunday's night is not Ben's: Monday begins uncovered, and so does the next Sunday night.
        "WARNING: nobody on call as primary (pages of critical level 0, urgent level 0 would go to the "
        "fallback) from Mon 2026-12-07 00:00 to Mon 2026-12-07 08:00 America/New_York (8 h)",
        "WARNING: nobody on call as primary (pages of critical level 0, urgent level 0 would go to the "
        "fallback) from Sat 2026-12-12 20:00 to Sun 2026-12-13 08:00 America/New_York (12 h)",
        "WARNING: nobody on call as primary (pages of critical level 0, urgent level 0 would go to the "
        "fallback) from Sun 2026-12-13 20:00 to Mon 2026-12-14 00:00 America/New_York (4 h)",
    ]


def test_check_refuses_a_bad_file_naming_row_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE_ROSTER_FILE.read_text().replace('slot = "backup"', 'slot = "deputy"', 1))
    refused = runner.invoke(app, ["roster", "check", str(bad)])
    assert refused.exit_code == 2
    assert (
        "shifts[1].slot: Input should be 'primary', 'backup', 'supervisor' or 'prescriber'" in refused.stderr
    )


def test_who_shows_each_level_at_a_time() -> None:
    shown = runner.invoke(
        app, ["roster", "who", "--file", str(EXAMPLE_ROSTER_FILE), "--at", "2026-12-24T19:00:00-05:00"]
    )
    assert shown.exit_code == 0, shown.output
    assert "critical level 0 -> primary    rn-ben (Ben Brooks, RN)" in shown.stdout
    assert "critical level 1 -> backup     sup-cho" in shown.stdout


def test_check_on_the_pagers_host_warns_about_its_missing_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    names = load_roster(EXAMPLE_ROSTER_FILE).secret_names()
    monkeypatch.setenv("IVIGWATCH_PAGER_SECRETS", json.dumps({n: "x" for n in names if n != "desk-phone"}))
    get_settings.cache_clear()
    try:
        warned = runner.invoke(
            app, ["roster", "check", str(EXAMPLE_ROSTER_FILE), "--from", "2026-12-20T00:00:00Z"]
        )
    finally:
        get_settings.cache_clear()
    assert warned.exit_code == 1
    assert [line.strip() for line in warned.stdout.splitlines() if "WARNING" in line] == [
        "WARNING: the secret desk-phone is not set in IVIGWATCH_PAGER_SECRETS here"
    ]
