"""Grafana in docker-compose.yml: provisioning files parse, agree with each other and with compose."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from models.events import VITAL_NAMES
from streams.infra.sinks.influx.line_protocol import ALERTS, INFUSION, VITALS

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICE: dict[str, Any] = COMPOSE["services"]["grafana"]
INFLUXDB_ENV: dict[str, Any] = COMPOSE["services"]["influxdb"]["environment"]
DATASOURCES: list[dict[str, Any]] = yaml.safe_load(
    (GRAFANA / "provisioning" / "datasources" / "influxdb.yaml").read_text()
)["datasources"]
PROVIDERS: list[dict[str, Any]] = yaml.safe_load(
    (GRAFANA / "provisioning" / "dashboards" / "ivigwatch.yaml").read_text()
)["providers"]
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
INFLUX_DASHBOARDS = [p for p in DASHBOARDS if p.name != "ivigwatch-operations.json"]
"""The operations dashboard reads Prometheus (tests/unit/deploy/test_prometheus.py)."""


def mounts() -> dict[str, str]:
    """Container path -> host path (relative to the repository) of the service's bind mounts."""
    out: dict[str, str] = {}
    for volume in SERVICE["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            out[target] = source.removeprefix("./")
    return out


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def test_grafana_is_pinned_closed_to_anonymous_users_and_secret_free() -> None:
    assert re.fullmatch(r"grafana/grafana(-oss)?:\d+\.\d+\.\d+", SERVICE["image"])
    env = SERVICE["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    assert all(p.startswith("127.0.0.1:") for p in SERVICE.get("ports", [])), "published on loopback only"
    assert SERVICE["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert "prometheus" in SERVICE["depends_on"]


def test_the_datasource_is_the_compose_influxdb_with_its_credentials() -> None:
    (source,) = DATASOURCES
    assert source["type"] == "influxdb" and source["jsonData"]["version"] == "InfluxQL"
    assert source["url"] == "http://influxdb:8086"
    assert source["jsonData"]["dbName"] == INFLUXDB_ENV["INFLUXDB_DB"] == "ivigwatch"
    assert source["user"] == INFLUXDB_ENV["INFLUXDB_READ_USER"]  # the read-only user
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", source["uid"])
    # the password is an environment lookup, and compose passes the very variable the user has
    name = re.fullmatch(r"\$\{?([A-Z_]+)\}?", source["secureJsonData"]["password"])
    assert name is not None, "no literal password in the provisioning file"
    assert SERVICE["environment"][name.group(1)] == INFLUXDB_ENV["INFLUXDB_READ_USER_PASSWORD"]
    assert "password" not in source and "basicAuthPassword" not in source


def test_compose_mounts_the_provisioning_and_dashboard_folders() -> None:
    mounted = mounts()
    assert mounted["/etc/grafana/provisioning"] == "deploy/grafana/provisioning"
    (provider,) = PROVIDERS
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    assert mounted[provider["options"]["path"]] == "deploy/grafana/dashboards"
    for host in mounted.values():
        assert (ROOT / host).is_dir()
    assert (
        any(v.startswith("grafana-data:") for v in SERVICE["volumes"])
        and "grafana-data" in COMPOSE["volumes"]
    )


def test_every_panel_and_target_uses_the_provisioned_datasource() -> None:
    uid = DATASOURCES[0]["uid"]
    assert INFLUX_DASHBOARDS, "at least one dashboard"
    for path in INFLUX_DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for variable in dashboard["templating"]["list"]:
            assert variable["datasource"]["uid"] == uid, variable["name"]
        queried = [p for p in panels(dashboard) if p["type"] != "row"]
        assert queried
        for panel in queried:
            assert panel["datasource"] == {"type": "influxdb", "uid": uid}, panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"] == {"type": "influxdb", "uid": uid}, panel["title"]
                assert target["rawQuery"] is True and target["query"].startswith("SELECT ")


def test_the_dashboard_queries_what_the_writer_stores() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "ivigwatch.json").read_text())
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["session_id"]
    assert 'FROM "vitals" WITH KEY = "session_id"' in dashboard["templating"]["list"][0]["query"]
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    titles = {p["title"]: p for p in panels(dashboard)}
    for title in ("Heart rate and breathing rate", "Blood pressure", "Temperature", "SpO2"):
        assert "\"session_id\" = '$session_id'" in titles[title]["targets"][0]["query"]
    assert (
        'GROUP BY time($__interval), "severity"'
        in titles["Alerts over time by severity"]["targets"][0]["query"]
    )
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            query = target["query"]
            measurements = set(re.findall(r'FROM "([a-z_]+)"', query))
            assert measurements <= {VITALS, INFUSION, ALERTS}, query
            if measurements == {VITALS}:
                fields = set(re.findall(r"SELECT (.*) FROM", query)[0].split('"')[1::4])
                assert fields <= set(VITAL_NAMES), query
    # the reaction-rate table groups what its two queries name
    reaction = titles["Reaction rate per product"]
    aliases = {a for t in reaction["targets"] for a in re.findall(r'AS "([a-z ]+)"', t["query"])}
    group_by = next(t for t in reaction["transformations"] if t["id"] == "groupBy")["options"]["fields"]
    assert set(group_by) - {"product"} == aliases == {"infusions", "reacted"}
