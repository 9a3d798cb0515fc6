"""`ivigwatch watchdog` refuses to start with one clear line when it cannot do its job."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.rules.loader import DEFAULT_RULES_FILE
from deploy.processes import free_port
from streams.apps.cli.main import app
from streams.apps.watchdog.probes import health_urls
from streams.infra.settings import Settings, get_settings

runner = CliRunner()


def invoke(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[int, str, float]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    began = time.monotonic()
    try:
        result = runner.invoke(app, ["watchdog"])
    finally:
        get_settings.cache_clear()
    return result.exit_code, result.stderr, time.monotonic() - began


def test_kafka_unreachable_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    code, err, seconds = invoke(monkeypatch, IVIGWATCH_KAFKA_BOOTSTRAP=bootstrap)
    assert code == 1
    assert f"cannot start the watchdog: cannot reach Kafka at {bootstrap}" in err
    assert "Traceback" not in err
    assert seconds < 60


def test_a_bad_rule_file_stops_it_before_it_connects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "proposed.toml"
    bad.write_text(
        DEFAULT_RULES_FILE.read_text().replace(
            "escalate_critical_minutes = 5", "escalate_critical_minutes = 'x'"
        )
    )
    code, err, _ = invoke(monkeypatch, IVIGWATCH_RULES_FILE=str(bad), IVIGWATCH_KAFKA_BOOTSTRAP="127.0.0.1:9")
    assert code == 2
    assert "cannot start the watchdog" in err


def test_health_urls_default_to_the_local_rule_worker() -> None:
    assert health_urls(Settings(rules_web_port=7001)) == ["http://127.0.0.1:7001/healthz"]
    everywhere = Settings(web_host="0.0.0.0", rules_web_port=7001)  # noqa: S104 - what compose sets
    assert health_urls(everywhere) == ["http://127.0.0.1:7001/healthz"]
    urls = Settings(watchdog_health_urls=" http://a:6066/healthz, http://b:6066/healthz ,")
    assert health_urls(urls) == ["http://a:6066/healthz", "http://b:6066/healthz"]
