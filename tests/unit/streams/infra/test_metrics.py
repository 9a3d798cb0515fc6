"""The Prometheus instruments: names, help, labels that never carry an id; who may scrape them."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError

import streams.infra.metrics.pager_metrics
import streams.infra.metrics.rules_metrics
import streams.infra.metrics.watchdog_metrics
import streams.infra.metrics.web_metrics
import streams.infra.metrics.worker_metrics
import streams.infra.metrics.writer_metrics  # noqa: F401 - registers the instruments
from streams.infra.metrics.scrape_access import exposition, scrape_allowed
from streams.infra.metrics.worker_metrics import CONSUMER_LAG, set_consumer_lag
from streams.infra.settings import Settings

ID_WORDS = ("patient", "session", "alert", "incident", "credential", "user", "nurse", "owner", "by", "path")
TOKEN = SecretStr("s3cret-scrape-token-0123456789")


def instruments() -> dict[str, tuple[str, ...]]:
    """Name -> label names of every ivigwatch instrument."""
    found: dict[str, tuple[str, ...]] = {}
    for collector, names in REGISTRY._collector_to_names.items():  # no public listing of label names
        if any(n.startswith("ivigwatch_") for n in names):
            found[collector._name] = tuple(collector._labelnames)  # type: ignore[attr-defined]
    return found


def test_every_instrument_is_ivigwatch_and_no_label_names_a_person_or_an_id() -> None:
    found = instruments()
    assert len(found) >= 20
    for name, labels in found.items():
        assert name.startswith("ivigwatch_")
        for label in labels:
            assert not label.endswith("_id") and label not in {"id", "le"}, (name, label)
            assert not any(word in label for word in ID_WORDS), (name, label)
    families = {m.name: m for m in REGISTRY.collect() if m.name.startswith("ivigwatch_")}
    assert all(m.documentation for m in families.values())


def test_the_issue_asks_for_these_metrics() -> None:
    found = instruments()
    assert found["ivigwatch_events_processed"] == ("type",)
    assert found["ivigwatch_dead_letters"] == ("stage",)
    assert found["ivigwatch_alerts_sent"] == ("condition", "severity", "status")
    assert found["ivigwatch_pages_sent"] == ("severity",)
    assert found["ivigwatch_consumer_lag"] == ("topic", "partition")
    assert found["ivigwatch_alert_latency_seconds"] == ("severity",)
    assert found["ivigwatch_influx_write_seconds"] == ("outcome",)
    assert found["ivigwatch_pager_deliveries"] == ("severity", "outcome")
    assert found["ivigwatch_http_requests"] == ("server", "route", "method", "status")
    assert "ivigwatch_console_open_streams" in found and "ivigwatch_console_logins" in found


def test_consumer_lag_keeps_only_the_partitions_assigned_now() -> None:
    set_consumer_lag([("ivig.events.v1", 0, 5), ("ivig.events.v1", 1, 0)])
    set_consumer_lag([("ivig.events.v1", 1, 3)])
    samples = {tuple(s.labels.values()): s.value for m in CONSUMER_LAG.collect() for s in m.samples}
    assert samples == {("ivig.events.v1", "1"): 3.0}


def test_the_exposition_parses_as_prometheus_text() -> None:
    body, content_type = exposition()
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"ivigwatch_events_processed", "ivigwatch_consumer_lag", "process_cpu_seconds"} <= names


@pytest.mark.parametrize(
    ("authorization", "remote", "allowed"),
    [
        (f"Bearer {TOKEN.get_secret_value()}", "10.0.0.5", True),
        (f"bearer  {TOKEN.get_secret_value()}", "10.0.0.5", True),
        (None, "127.0.0.1", False),  # a token is set: loopback is no exception
        ("Bearer wrong-token-wrong-token-00", "127.0.0.1", False),
        (f"Basic {TOKEN.get_secret_value()}", "127.0.0.1", False),
        (f"Bearer {TOKEN.get_secret_value()}x", "127.0.0.1", False),
        ("Bearer ", "127.0.0.1", False),
    ],
)
def test_with_a_token_only_the_token_may_scrape(
    authorization: str | None, remote: str, allowed: bool
) -> None:
    assert scrape_allowed(TOKEN, authorization, remote, forwarded=False) is allowed


@pytest.mark.parametrize(
    ("remote", "forwarded", "allowed"),
    [
        ("127.0.0.1", False, True),
        ("::1", False, True),
        ("10.0.0.5", False, False),
        ("172.18.0.1", False, False),  # a published container port: the bridge's address
        ("127.0.0.1", True, False),  # a reverse proxy on this host forwards someone else
        (None, False, False),
        ("not-an-address", False, False),
    ],
)
def test_without_a_token_only_loopback_may_scrape(remote: str | None, forwarded: bool, allowed: bool) -> None:
    assert scrape_allowed(None, f"Bearer {TOKEN.get_secret_value()}", remote, forwarded) is allowed


def test_a_short_scrape_token_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="metrics_token"):
        Settings(metrics_token=SecretStr("short"))
    assert "s3cret" not in repr(Settings(metrics_token=TOKEN))
