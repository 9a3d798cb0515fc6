"""The one settings object: env prefix, secrets, and the README's configuration table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.infra.settings import Settings

README = (Path(__file__).resolve().parents[4] / "README.md").read_text()


def test_reads_ivigwatch_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("IVIGWATCH_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "ignored:1")
    settings = Settings()
    assert settings.bootstrap == "k1:9092,k2:9092"
    assert settings.topic_partitions == 12
    assert not settings.uses_local_kafka


def test_local_servers_by_default() -> None:
    settings = Settings(kafka_bootstrap=None, influx_url=None, local_kafka_port=1234, local_influx_port=4321)
    assert settings.bootstrap == "127.0.0.1:1234"
    assert settings.influx_base_url == "http://127.0.0.1:4321"


def test_password_is_masked_for_display_but_passed_to_children() -> None:
    settings = Settings(influx_password="s3cret-value")  # type: ignore[arg-type]
    assert "s3cret-value" not in str(settings.masked())
    assert "s3cret-value" not in repr(settings)
    assert settings.to_env()["IVIGWATCH_INFLUX_PASSWORD"] == "s3cret-value"
    assert Settings(**settings.model_dump()) == settings


def test_readme_documents_every_setting() -> None:
    missing = [name for name in Settings.model_fields if f"`IVIGWATCH_{name.upper()}`" not in README]
    assert not missing


def test_the_pager_secrets_are_a_json_object_masked_on_display_and_handed_on_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVIGWATCH_PAGER_SECRETS", '{"rn-ana-url": "https://ntfy.sh/s3cret-topic"}')
    monkeypatch.setenv("IVIGWATCH_PAGER_ROSTER_FILE", "")  # compose's ${VAR:-}: no roster
    settings = Settings()
    assert settings.pager_roster_file is None
    assert settings.pager_secret_values() == {"rn-ana-url": "https://ntfy.sh/s3cret-topic"}
    assert "s3cret" not in repr(settings) and "s3cret" not in json.dumps(settings.masked())
    assert json.loads(settings.to_env()["IVIGWATCH_PAGER_SECRETS"]) == {
        "rn-ana-url": "https://ntfy.sh/s3cret-topic"
    }
