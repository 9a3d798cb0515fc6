"""Stack orchestration without real servers: status, external servers, the CLI."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy import local_kafka, stack
from deploy.processes import LISTEN_PORTS, ServerError, free_ports
from streams.apps.cli.main import app
from streams.infra.settings import Settings, get_settings


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    kafka, controller, influx = free_ports(3)
    values: dict[str, object] = {
        "state_dir": tmp_path / "state",
        "local_kafka_port": kafka,
        "local_kafka_controller_port": controller,
        "local_influx_port": influx,
        "kafka_bootstrap": None,
        "influx_url": None,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def influx_url(ping_server: str) -> str:
    return f"{ping_server}/"  # with a trailing slash, as users type it


@pytest.fixture
def kafka_bootstrap() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_status_when_nothing_runs(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    current = stack.status(settings)
    assert [s.name for s in current.servers] == ["kafka", "influxdb"]
    assert not current.all_running
    kafka = current.get("kafka")
    assert (kafka.mode, kafka.running, kafka.pid) == ("local", False, None)
    assert kafka.address == settings.bootstrap
    assert kafka.log_path == (tmp_path / "state" / "kafka" / "broker.log").resolve()
    influx = current.get("influxdb")
    assert influx.address == settings.influx_base_url
    assert influx.log_path == (tmp_path / "state" / "influxdb" / "influxd.log").resolve()


def test_down_when_nothing_runs(tmp_path: Path) -> None:
    lines: list[str] = []
    stack.down(_settings(tmp_path), log=lines.append)
    assert sorted(lines) == ["InfluxDB is not running", "Kafka is not running"]


def test_external_servers_are_only_checked(tmp_path: Path, influx_url: str, kafka_bootstrap: str) -> None:
    (dead,) = free_ports(1)
    settings = _settings(
        tmp_path, influx_url=influx_url, kafka_bootstrap=f"127.0.0.1:{dead},{kafka_bootstrap}"
    )
    lines: list[str] = []
    current = stack.up(settings, log=lines.append)
    assert current.all_running
    assert {s.mode for s in current.servers} == {"external"}
    assert any("Kafka (external) reachable" in line for line in lines)
    assert any("InfluxDB (external) reachable" in line for line in lines)
    assert not (tmp_path / "state" / "kafka").exists()  # nothing local was prepared
    stack.down(settings, log=lines.append)
    assert any("nothing to stop" in line for line in lines)


def test_unreachable_external_servers_fail_clearly(tmp_path: Path) -> None:
    dead_kafka, dead_influx = free_ports(2)
    settings = _settings(
        tmp_path,
        kafka_bootstrap=f"127.0.0.1:{dead_kafka}",
        influx_url=f"http://127.0.0.1:{dead_influx}",
    )
    with pytest.raises(ServerError) as info:
        stack.up(settings, log=lambda line: None)
    message = str(info.value)
    assert f"Kafka at 127.0.0.1:{dead_kafka} (IVIGWATCH_KAFKA_BOOTSTRAP)" in message
    assert f"InfluxDB at http://127.0.0.1:{dead_influx} (IVIGWATCH_INFLUX_URL)" in message
    assert not stack.status(settings).all_running


def test_local_port_taken_by_a_stranger_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, influx_url: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        settings = _settings(tmp_path, local_kafka_port=sock.getsockname()[1], influx_url=influx_url)
        monkeypatch.setattr(local_kafka, "ensure_tools", lambda settings, log: None)
        with pytest.raises(ServerError, match="IVIGWATCH_LOCAL_KAFKA_PORT"):
            stack.up(settings, log=lambda line: None)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9092", ("127.0.0.1", 9092)),
        (" kafka:19092 ", ("kafka", 19092)),
        ("PLAINTEXT://broker:9092", ("broker", 9092)),
        ("[::1]:9092", ("::1", 9092)),
    ],
)
def test_split_hostport(address: str, expected: tuple[str, int]) -> None:
    assert stack._split_hostport(address) == expected


def test_split_hostport_rejects_garbage() -> None:
    with pytest.raises(ServerError):
        stack._split_hostport("no-port")


def test_cli_status_exits_1_when_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    monkeypatch.setenv("IVIGWATCH_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("IVIGWATCH_LOCAL_KAFKA_PORT", str(settings.local_kafka_port))
    monkeypatch.delenv("IVIGWATCH_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("IVIGWATCH_INFLUX_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["stack", "status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "stopped" in result.output
    assert f"127.0.0.1:{settings.local_kafka_port}" in result.output


def test_cli_up_reports_errors_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (dead,) = free_ports(1)
    monkeypatch.setenv("IVIGWATCH_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", f"127.0.0.1:{dead}")
    monkeypatch.setenv("IVIGWATCH_INFLUX_URL", f"http://127.0.0.1:{dead}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["stack", "up"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "IVIGWATCH_KAFKA_BOOTSTRAP" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_isolated_stack_draws_every_port_it_listens_on_at_once(tmp_path: Path) -> None:
    """Every port of an isolated stack is drawn in one go, so no two of its servers can collide
    (InfluxDB's backup service once picked its own port later and took the writer's)."""
    settings = stack.isolated_settings(tmp_path)
    ports = [
        settings.local_kafka_port,
        settings.local_kafka_controller_port,
        settings.local_influx_port,
        settings.local_influx_rpc_port,
        settings.rules_web_port,
        settings.writer_web_port,
    ]
    assert len(set(ports)) == len(ports)
    assert all(port in LISTEN_PORTS for port in ports)  # drawn, not a fixed default
