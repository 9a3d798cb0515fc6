"""`ivigwatch console` and `ivigwatch console hash-password` as a user meets them (no servers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from streams.apps.cli.main import app
from streams.apps.console.auth import hash_password, verify_password
from streams.infra.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("IVIGWATCH_CONSOLE_USERS", "IVIGWATCH_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()  # the next test reads its own environment


def test_hash_password_prints_only_a_hash_of_the_password_typed_twice() -> None:
    result = runner.invoke(app, ["console", "hash-password"], input="pw-ward-7\npw-ward-7\n")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("scrypt$") and verify_password("pw-ward-7", line)
    assert "pw-ward-7" not in result.stdout


def test_hash_password_refuses_a_short_password() -> None:
    result = runner.invoke(app, ["console", "hash-password"], input="short\nshort\n")
    assert result.exit_code == 2 and "at least 8" in result.stderr


def test_the_console_without_accounts_stops_with_one_line() -> None:
    result = runner.invoke(app, ["console"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "cannot start the console: no console accounts: set IVIGWATCH_CONSOLE_USERS=name:hash,... "
        "(make each hash with `ivigwatch console hash-password`)"
    ]


def test_the_console_without_kafka_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVIGWATCH_CONSOLE_USERS", f"rn-ana:{hash_password('pw-ward-7')}")
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    result = runner.invoke(app, ["console", "--port", "0"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "cannot reach Kafka at 127.0.0.1:1: start the local stack with `ivigwatch stack up`, "
        "or set IVIGWATCH_KAFKA_BOOTSTRAP"
    ]
