"""docker-compose.yml runs the watchdog by default, beside the workers, watching the rules service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[5]
SERVICES: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_the_watchdog_service_watches_the_rule_worker() -> None:
    watchdog = SERVICES["watchdog"]
    env = watchdog["environment"]
    assert watchdog["command"] == ["ivigwatch", "watchdog"]
    assert watchdog["build"]["dockerfile"] == SERVICES["rules"]["build"]["dockerfile"], "same image"
    assert "profiles" not in watchdog, "it runs with a plain `docker compose up`"
    assert "ports" not in watchdog
    assert env["IVIGWATCH_WATCHDOG_HEALTH_URLS"] == "http://rules:6066/healthz"
    assert env["IVIGWATCH_RULES_APP_ID"] == SERVICES["rules"]["environment"]["IVIGWATCH_RULES_APP_ID"]
    assert env["IVIGWATCH_KAFKA_BOOTSTRAP"] == SERVICES["rules"]["environment"]["IVIGWATCH_KAFKA_BOOTSTRAP"]
    assert "rules" not in watchdog["depends_on"], "a rule worker that never starts must still be noticed"
    assert env["IVIGWATCH_WATCHDOG_WEB_PORT"] in " ".join(watchdog["healthcheck"]["test"])
