"""The real local stack: Kafka 4.0.1 + InfluxDB started in a temp state dir on free ports."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import local_influx, stack
from deploy.processes import http_ok, pid_alive, port_open
from streams.infra.kafka import kafka_clients
from streams.infra.settings import Settings
from tests.integration.conftest import local_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, list[str]]]:
    """A stack of this module's own, with the progress lines of its first `up`."""
    settings = local_settings(
        tmp_path_factory.mktemp("stack"), influx_db="ivigwatch_it", stack_start_timeout=120.0
    )
    lines: list[str] = []
    try:
        stack.up(settings, log=lines.append)
        yield settings, lines
    finally:
        stack.down(settings, log=lambda line: None)


def test_up_starts_kafka_and_influx(started: tuple[Settings, list[str]]) -> None:
    settings, lines = started
    current = stack.status(settings)
    assert current.all_running
    for server in current.servers:
        assert server.mode == "local"
        assert server.pid is not None
        assert pid_alive(server.pid)
        assert server.log_path is not None
        assert server.log_path.is_file()
    assert port_open("127.0.0.1", settings.local_kafka_port)
    assert any(line.startswith(f"Kafka ready on {settings.bootstrap} in ") for line in lines)
    assert any(line.startswith("InfluxDB ready on ") for line in lines)
    assert (Path(settings.state_dir) / "kafka" / "cluster.id").is_file()


async def test_kafka_round_trip(started: tuple[Settings, list[str]]) -> None:
    settings, _ = started
    topic = f"stack-smoke-{uuid.uuid4().hex[:8]}"
    producer = kafka_clients.producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"patient-less")
    finally:
        await producer.stop()
    consumer = kafka_clients.consumer(settings, topic, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"patient-less", b"hello")


def test_influx_pings_and_has_the_database(started: tuple[Settings, list[str]]) -> None:
    settings, _ = started
    assert http_ok(f"{settings.influx_base_url}/ping")
    assert local_influx.database_exists(settings)


def test_second_up_reuses_the_running_servers(started: tuple[Settings, list[str]]) -> None:
    settings, _ = started
    before = stack.status(settings)
    lines: list[str] = []
    after = stack.up(settings, log=lines.append)
    assert [s.pid for s in after.servers] == [s.pid for s in before.servers]
    assert sorted(line.split(" on ")[0] for line in lines) == [
        "InfluxDB already running",
        "Kafka already running",
    ]


def test_down_stops_everything(started: tuple[Settings, list[str]]) -> None:
    settings, _ = started
    pids = [s.pid for s in stack.status(settings).servers]
    stack.down(settings, log=lambda line: None)
    current = stack.status(settings)
    assert not any(server.running for server in current.servers)
    assert all(pid is not None and not pid_alive(pid) for pid in pids)
    assert not port_open("127.0.0.1", settings.local_kafka_port)
    assert not port_open("127.0.0.1", settings.local_influx_port)
    assert not (Path(settings.state_dir) / "kafka" / "broker.pid").exists()
    assert not (Path(settings.state_dir) / "influxdb" / "influxd.pid").exists()
