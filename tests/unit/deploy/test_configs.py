"""Rendering of the servers' config files, the cluster id and the jar cache."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest

from deploy import local_influx, local_kafka
from deploy.local_influx import InfluxPaths, quote_identifier, render_config
from deploy.local_kafka import (
    KafkaPaths,
    ensure_jars,
    jars_current,
    kafka_version,
    new_cluster_id,
    render_server_properties,
)
from deploy.processes import ServerError


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def test_server_properties_fill_ports_and_dirs(tmp_path: Path) -> None:
    text = render_server_properties(29092, 29093, tmp_path / "data")
    props = _properties(text)
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["process.roles"] == "broker,controller"
    assert props["auto.create.topics.enable"] == "true"
    assert props["offsets.topic.replication.factor"] == "1"
    assert "${" not in text
    assert "0.0.0.0" not in text  # noqa: S104 - checking that nothing binds to it


def test_secured_broker_has_no_unauthenticated_listener(tmp_path: Path) -> None:
    security = local_kafka.BrokerSecurity("broker-user", "broker-pw", tmp_path / "k.pem", tmp_path / "ca.pem")
    text = render_server_properties(29092, 29093, tmp_path / "data", security)
    props = _properties(text)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:29092"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert props["listener.name.controller.ssl.client.auth"] == "required"  # only the broker's cert
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-256,SCRAM-SHA-512"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(tmp_path / "ca.pem")
    assert (
        'username="broker-user" password="broker-pw"'
        in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )
    assert "PLAINTEXT" not in text.replace("SASL_PLAINTEXT", "")
    assert "${" not in text
    assert "broker-pw" not in repr(security)


def test_kafka_version_comes_from_the_pom() -> None:
    assert kafka_version() == "4.0.1"


def test_cluster_ids_are_valid() -> None:
    for _ in range(500):
        cluster_id = new_cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
        assert not cluster_id.startswith("-")


def test_state_layout(tmp_path: Path) -> None:
    kafka = KafkaPaths.of(tmp_path)
    assert kafka.lib == tmp_path / "kafka-lib"
    assert kafka.log == tmp_path / "kafka" / "broker.log"
    assert kafka.pid == tmp_path / "kafka" / "broker.pid"
    assert kafka.cluster_id == tmp_path / "kafka" / "cluster.id"
    assert kafka.server_properties == tmp_path / "kafka" / "conf" / "server.properties"
    influx = InfluxPaths.of(tmp_path)
    assert influx.conf == tmp_path / "influxdb" / "influxdb.conf"
    assert influx.log == tmp_path / "influxdb" / "influxd.log"
    assert influx.pid == tmp_path / "influxdb" / "influxd.pid"


def test_influx_config_stays_in_state_dir_and_on_loopback(tmp_path: Path) -> None:
    paths = InfluxPaths.of(tmp_path)
    conf = tomllib.loads(render_config(paths, 28086, 28088))
    assert conf["bind-address"] == "127.0.0.1:28088"
    assert conf["reporting-disabled"] is True
    assert conf["reporting-enabled"] is False
    assert conf["meta"]["dir"] == str(paths.meta)
    assert conf["data"]["dir"] == str(paths.data)
    assert conf["data"]["wal-dir"] == str(paths.wal)
    assert conf["data"]["query-log-enabled"] is False
    assert conf["data"]["wal-fsync-delay"] == "0s", "a 204 must mean the point is fsynced"
    assert conf["data"]["cache-snapshot-memory-size"] == "256m"  # a third less write CPU than 25m
    assert conf["http"]["bind-address"] == "127.0.0.1:28086"
    assert conf["http"]["auth-enabled"] is True  # the secured local stack is the default
    assert tomllib.loads(render_config(paths, 28086, 28088, auth=False))["http"]["auth-enabled"] is False
    for listener in ("graphite", "collectd", "opentsdb", "udp"):
        assert all(not section["enabled"] for section in conf[listener])
    text = render_config(paths, 28086, 28088)
    assert "0.0.0.0" not in text  # noqa: S104 - checking that nothing binds to it
    assert "${" not in text


def test_influx_serves_no_profiling_page_and_no_request_log(tmp_path: Path) -> None:
    http = tomllib.loads(render_config(InfluxPaths.of(tmp_path), 28086, 28088))["http"]
    assert http["pprof-enabled"] is False  # /debug/pprof/* answer 404
    assert http["debug-pprof-enabled"] is False  # nothing on localhost:6060
    assert http["log-enabled"] is False
    assert http["unix-socket-enabled"] is False


def test_influxql_identifier_quoting() -> None:
    assert quote_identifier("ivigwatch") == '"ivigwatch"'
    assert quote_identifier('a"b\\c') == '"a\\"b\\\\c"'


def _fake_mvn(tmp_path: Path) -> Path:
    """A stand-in for mvn that 'copies' one jar into -DoutputDirectory."""
    script = tmp_path / "mvn"
    script.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#*=}";; esac; done\n'
        'echo fake > "$out/kafka_2.13-9.9.9.jar"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_ensure_jars_copies_once_per_pom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mvn = _fake_mvn(tmp_path)
    monkeypatch.setattr(local_kafka, "ensure_java", lambda log: "java")
    monkeypatch.setattr(local_kafka, "ensure_tool", lambda *a, **k: str(mvn))
    pom = tmp_path / "pom.xml"
    pom.write_text(local_kafka.POM.read_text())
    paths = KafkaPaths.of(tmp_path / "state")
    paths.lib.mkdir(parents=True)
    (paths.lib / "kafka_2.13-0.0.1.jar").write_text("stale")
    lines: list[str] = []

    assert not jars_current(paths, pom)
    assert ensure_jars(paths, lines.append, pom=pom)
    assert sorted(p.name for p in paths.lib.glob("*.jar")) == ["kafka_2.13-9.9.9.jar"]
    assert lines[0] == "Resolving Kafka 4.0.1 jars with Maven (first run only)..."
    assert jars_current(paths, pom)
    assert not ensure_jars(paths, lines.append, pom=pom)  # marker matches: no mvn

    pom.write_text(pom.read_text().replace("4.0.1", "4.0.2"))
    assert not jars_current(paths, pom)


def test_ensure_jars_reports_maven_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "mvn"
    script.write_text("#!/bin/sh\necho 'Could not resolve dependencies' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(local_kafka, "ensure_java", lambda log: "java")
    monkeypatch.setattr(local_kafka, "ensure_tool", lambda *a, **k: str(script))
    paths = KafkaPaths.of(tmp_path / "state")
    with pytest.raises(ServerError, match="Could not resolve dependencies"):
        ensure_jars(paths, lambda line: None)
    assert not jars_current(paths)


def test_influx_template_placeholders() -> None:
    """The template uses exactly the placeholders the renderer fills."""
    template = local_influx.CONF_TEMPLATE.read_text()
    names = set(re.findall(r"(?<!\$)\$\{(\w+)\}", template))
    assert names == {"meta_dir", "data_dir", "wal_dir", "http_bind", "rpc_bind", "auth_enabled"}
