"""`ivigwatch limit|snooze`: what the rule file does not allow is refused before anything is sent
(no Kafka is reached here: the address is a closed port)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from streams.apps.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["snooze", "pt-1", "hypotension", "--rule", "hypotension.absolute", "--hours", "2", "--reason", "x"],
         "critical rows are never snoozed [not_snoozable]"),
        (["snooze", "pt-1", "early_warning_score", "--hours", "2", "--reason", "x"], "[not_snoozable]"),
        (["limit", "pt-1", "spo2", "low", "85", "--hours", "2", "--reason", "x"], "[limit_out_of_bounds]"),
        (["limit", "pt-1", "spo2", "low", "91", "--hours", "200", "--reason", "x"], "[limit_too_long]"),
        (["limit", "pt-1", "spo2", "low", "91", "--hours", "2"], "`until` and a `reason` are required"),
    ],
)  # fmt: skip
def test_a_setting_the_rule_file_does_not_allow_is_refused(
    args: list[str], words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    result = runner.invoke(app, [*args, "--by", "rn-cli"])
    assert result.exit_code == 2 and words in result.stderr
