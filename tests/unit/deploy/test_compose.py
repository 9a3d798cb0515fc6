"""docker-compose.yml stays correct even though no Docker engine runs here: parse and check it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from streams.infra.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def ivigwatch_env_names() -> set[str]:
    names: set[str] = set()
    for service in SERVICES.values():
        names.update(k for k in service.get("environment", {}) if k.startswith("IVIGWATCH_"))
    return names


def test_every_ivigwatch_variable_is_a_setting() -> None:
    fields = {f"IVIGWATCH_{name.upper()}" for name in Settings.model_fields}
    names = ivigwatch_env_names()
    assert names, "the workers get their configuration from IVIGWATCH_* variables"
    assert names <= fields, f"not settings: {sorted(names - fields)}"


def test_servers_and_workers() -> None:
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:4.")
    assert SERVICES["influxdb"]["image"] == "influxdb:1.12"
    assert SERVICES["influxdb"]["environment"]["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    for name in ("kafka", "influxdb"):
        assert "healthcheck" in SERVICES[name]
    assert any("kafka-data:" in v for v in SERVICES["kafka"]["volumes"])
    for role in ("rules", "writer"):
        assert SERVICES[role]["command"] == ["ivigwatch", "worker", role]
        assert SERVICES[role]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "ports" not in SERVICES[role], "worker web ports stay unpublished"
    assert SERVICES["simulator"]["profiles"] == ["simulator"]
    assert (ROOT / "deploy" / "Dockerfile").is_file()


def test_no_secret_is_written_into_the_file() -> None:
    for service in SERVICES.values():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key or "TOKEN" in key:
                assert str(value).startswith("${"), f"{key} must come from the environment"


def test_the_influxdb_schema_is_set_up_once_by_an_admin_before_the_writer_starts() -> None:
    setup = SERVICES["influx-setup"]
    assert setup["command"] == ["ivigwatch", "influx", "setup"]
    assert setup["restart"] == "no"
    assert setup["environment"]["IVIGWATCH_INFLUX_ADMIN_USERNAME"] == "admin"
    assert "INFLUXDB_ADMIN_PASSWORD" in setup["environment"]["IVIGWATCH_INFLUX_ADMIN_PASSWORD"]
    others = [name for name in SERVICES if name not in ("influx-setup", "influxdb")]
    assert not any("INFLUXDB_ADMIN_PASSWORD" in str(SERVICES[name].get("environment")) for name in others)


def test_separate_writer_and_reader_users_and_kafka_stays_inside_the_network() -> None:
    influx = SERVICES["influxdb"]["environment"]
    assert influx["INFLUXDB_WRITE_USER"] == SERVICES["writer"]["environment"]["IVIGWATCH_INFLUX_USERNAME"]
    assert influx["INFLUXDB_READ_USER"] == "ivigwatch-reader"
    assert "INFLUXDB_USER" not in influx  # no user with ALL on the database besides the admin
    assert "ports" not in SERVICES["kafka"], "the plain-text Kafka must not be published"
    assert "IVIGWATCH_INFLUX_READ_PASSWORD" in SERVICES["grafana"]["environment"]
    assert "IVIGWATCH_INFLUX_PASSWORD" not in SERVICES["grafana"]["environment"]
    assert SERVICES["writer"]["depends_on"]["influx-setup"] == {"condition": "service_completed_successfully"}


INFLUX_LOGINS = {
    "writer": ("IVIGWATCH_INFLUX_USERNAME", "IVIGWATCH_INFLUX_PASSWORD"),
    "reader": ("IVIGWATCH_INFLUX_READ_USERNAME", "IVIGWATCH_INFLUX_READ_PASSWORD"),
    "admin": ("IVIGWATCH_INFLUX_ADMIN_USERNAME", "IVIGWATCH_INFLUX_ADMIN_PASSWORD"),
}


def influx_logins(service: str) -> set[str]:
    env = SERVICES[service].get("environment", {})
    return {role for role, names in INFLUX_LOGINS.items() if any(name in env for name in names)}


def test_only_the_writer_service_holds_the_writer_login() -> None:
    # the writer user may DELETE, DROP SERIES and DROP RETENTION POLICY (SECURITY.md)
    ours = [name for name, service in SERVICES.items() if service.get("image") == "ivigwatch:local"]
    held = {name: influx_logins(name) for name in ours}
    assert held == {
        "rules": set(),
        "influx-setup": {"admin"},
        "writer": {"writer", "reader"},  # the reader reads back minutes for the rollups
        "pager": set(),
        "watchdog": set(),
        "gateway": set(),
        "simulator": set(),
    }
    assert SERVICES["writer"]["environment"]["IVIGWATCH_INFLUX_USERNAME"] == "ivigwatch-writer"


def test_influxdb_debug_pages_and_metrics_need_a_login() -> None:
    influx = SERVICES["influxdb"]["environment"]
    # pprof-auth-enabled puts /debug/pprof, /debug/vars and /debug/requests behind an admin login,
    # but only with pprof-enabled; ping-auth-enabled puts /ping, /status, /health, /metrics behind one
    assert influx["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert influx["INFLUXDB_HTTP_PPROF_ENABLED"] == "true"
    assert influx["INFLUXDB_HTTP_PPROF_AUTH_ENABLED"] == "true"
    assert influx["INFLUXDB_HTTP_PING_AUTH_ENABLED"] == "true"
    assert influx["INFLUXDB_HTTP_DEBUG_PPROF_ENABLED"] == "false"
    assert influx["INFLUXDB_HTTP_LOG_ENABLED"] == "false"
    assert influx["INFLUXDB_DATA_QUERY_LOG_ENABLED"] == "false"
    check = " ".join(SERVICES["influxdb"]["healthcheck"]["test"])
    assert "-K -" in check and "/ping" in check  # the login goes to curl on stdin
    assert "-u " not in check and "PASSWORD@" not in check


def test_the_simulator_runs_in_real_time_against_production_workers() -> None:
    """The compose workers run the production clock (no IVIGWATCH_SIMULATED_CLOCK): an accelerated
    simulation would be refused by `simulate` itself, and its events by the rule worker."""
    assert not any("IVIGWATCH_SIMULATED_CLOCK" in s.get("environment", {}) for s in SERVICES.values())
    command = SERVICES["simulator"]["command"]
    assert command[command.index("--speed") + 1] == "1"


def test_the_gateway_is_published_on_loopback_only_and_keeps_its_credentials_in_a_volume() -> None:
    gateway = SERVICES["gateway"]
    assert gateway["command"][:2] == ["ivigwatch", "gateway"]
    assert gateway["ports"] == [f"127.0.0.1:{gateway['environment']['IVIGWATCH_GATEWAY_PORT']}:8090"]
    assert gateway["volumes"] == ["gateway-state:/var/lib/ivigwatch"]
    assert gateway["environment"]["IVIGWATCH_STATE_DIR"] == "/var/lib/ivigwatch"
