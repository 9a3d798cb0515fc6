"""Prometheus in docker-compose.yml: it scrapes every ivigwatch service's /metrics with the scrape
token from a secret, and Grafana's operations dashboard asks it only for metrics the code defines.
(No promtool here: the config is parsed and checked against compose.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import streams.infra.metrics.pager_metrics
import streams.infra.metrics.rules_metrics
import streams.infra.metrics.watchdog_metrics
import streams.infra.metrics.web_metrics
import streams.infra.metrics.worker_metrics
import streams.infra.metrics.writer_metrics  # noqa: F401 - registers the instruments
from streams.infra.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
GRAFANA = ROOT / "deploy" / "grafana"
DATASOURCE: dict[str, Any] = yaml.safe_load(
    (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
)["datasources"][0]
DASHBOARD: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "ivigwatch-operations.json").read_text())
WEB_PORTS = {
    service: Settings.model_fields[field].default
    for service, field in {
        "rules": "rules_web_port",
        "writer": "writer_web_port",
        "pager": "pager_web_port",
        "watchdog": "watchdog_web_port",
        "gateway": "gateway_port",
    }.items()
}
"""The port each service serves /metrics on (compose keeps the defaults)."""


def mounted(service: dict[str, Any], target: str) -> Path:
    (source,) = [v.split(":")[0] for v in service["volumes"] if v.split(":")[1] == target]
    return ROOT / source.removeprefix("./")


def test_prometheus_is_pinned_unpublished_and_reads_this_config() -> None:
    service = SERVICES["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", service["image"])
    assert "ports" not in service, "Prometheus' UI has no login: the compose network only"
    assert "--config.file=/etc/prometheus/prometheus.yml" in service["command"]
    assert mounted(service, "/etc/prometheus/prometheus.yml") == ROOT / "deploy/prometheus/prometheus.yml"
    assert any(v.startswith("prometheus-data:") for v in service["volumes"])
    assert "prometheus-data" in COMPOSE["volumes"]


def test_every_service_with_metrics_is_scraped_with_the_token_from_a_secret() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    assert set(jobs) == set(WEB_PORTS)
    secret = COMPOSE["secrets"]["metrics_token"]
    assert secret == {"environment": "IVIGWATCH_METRICS_TOKEN"}
    assert SERVICES["prometheus"]["secrets"] == ["metrics_token"]
    for name, job in jobs.items():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
        (target,) = [t for c in job["static_configs"] for t in c["targets"]]
        assert target == f"{name}:{WEB_PORTS[name]}"
        env = SERVICES[name]["environment"]
        assert env["IVIGWATCH_METRICS_TOKEN"] == "${IVIGWATCH_METRICS_TOKEN:?set IVIGWATCH_METRICS_TOKEN}"
        everywhere = "0.0.0.0"  # noqa: S104 - inside the compose network, behind the token
        assert env.get("IVIGWATCH_WEB_HOST") == everywhere or everywhere in SERVICES[name]["command"]
    assert SERVICES["watchdog"]["environment"]["IVIGWATCH_WATCHDOG_WEB_PORT"] == str(WEB_PORTS["watchdog"])
    assert SERVICES["gateway"]["environment"]["IVIGWATCH_GATEWAY_PORT"] == str(WEB_PORTS["gateway"])


def test_grafana_reads_the_compose_prometheus() -> None:
    assert DATASOURCE["type"] == "prometheus"
    assert DATASOURCE["url"] == "http://prometheus:9090"
    assert DATASOURCE["editable"] is False


def defined_metric_names() -> set[str]:
    """Every sample name the instruments expose (counters' _total, histograms' _bucket/_sum/_count)."""
    names: set[str] = set()
    for metric in REGISTRY.collect():
        if not metric.name.startswith("ivigwatch_"):
            continue
        names.add(metric.name)
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(metric.type, ("",))
        names.update(metric.name + suffix for suffix in suffixes)
    return names


def test_the_operations_dashboard_queries_only_defined_metrics_on_the_prometheus_datasource() -> None:
    uid = DATASOURCE["uid"]
    defined = defined_metric_names()
    queried: set[str] = set()
    ids = []
    for panel in DASHBOARD["panels"]:
        ids.append(panel["id"])
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
            queried.update(re.findall(r"\bivigwatch_[a-z_]+", target["expr"]))
    assert len(ids) == len(set(ids))
    assert queried, "the dashboard shows ivigwatch metrics"
    assert queried <= defined, sorted(queried - defined)
    for wanted in (
        "ivigwatch_events_processed_total",
        "ivigwatch_dead_letters_total",
        "ivigwatch_alerts_sent_total",
        "ivigwatch_pages_sent_total",
        "ivigwatch_consumer_lag",
        "ivigwatch_alert_latency_seconds_bucket",
        "ivigwatch_influx_write_seconds_bucket",
        "ivigwatch_pager_deliveries_total",
        "ivigwatch_http_requests_total",
    ):
        assert wanted in queried, wanted
