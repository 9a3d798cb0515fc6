"""The secured local stack refuses what it must: a wrong Kafka password, a plain-text Kafka client,
a client that does not trust the broker's CA, and any write by the InfluxDB reader user."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import SecretStr

from deploy import local_secrets
from streams.infra.kafka import kafka_clients
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration


async def _send(settings: Settings, timeout: float = 20.0) -> None:
    """One message to a fresh topic; raises when the broker refuses the client."""
    producer = kafka_clients.producer(settings, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(producer.start(), timeout)
        await asyncio.wait_for(producer.send_and_wait(f"sec-{uuid.uuid4().hex[:8]}", b"x"), timeout)
    finally:
        await producer.stop()


async def _refused(settings: Settings) -> bool:
    try:
        await _send(settings, timeout=15.0)
    except (KafkaError, KafkaConnectionError, OSError, TimeoutError):
        return True
    return False


async def test_the_generated_login_is_accepted(live: Live) -> None:
    assert live.settings.kafka_login().security_protocol == "SASL_SSL"
    await _send(live.settings)


async def test_a_wrong_kafka_password_is_refused(live: Live) -> None:
    wrong = live.settings.model_copy(
        update={"kafka_username": "ivigwatch", "kafka_password": SecretStr("not-the-password")}
    )
    assert await _refused(wrong)


async def test_a_plain_text_kafka_client_is_refused(live: Live) -> None:
    plain = live.settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    assert kafka_clients.connection_options(plain)["security_protocol"] == "PLAINTEXT"
    assert await _refused(plain)


async def test_a_client_that_does_not_trust_the_local_ca_is_refused(live: Live, tmp_path: Path) -> None:
    other_stack = live.settings.model_copy(update={"state_dir": tmp_path})
    other_ca = local_secrets.ensure_certificates(other_stack).ca_cert  # a CA of another stack
    untrusting = live.settings.model_copy(update={"kafka_ca_file": other_ca})
    assert await _refused(untrusting)


async def test_the_influx_reader_cannot_write(live: Live) -> None:
    settings = live.settings
    line = "security_probe,patient_id=pt-probe value=1 1700000000000"
    async with InfluxClient(settings, role="reader") as reader:
        with pytest.raises(InfluxUnavailable, match="HTTP 403"):
            await reader.write_once([line])
        for statement in (
            'DELETE FROM "vitals" WHERE "patient_id" = \'pt-probe\'',
            'SELECT * INTO "copied" FROM "vitals"',
            'DROP MEASUREMENT "vitals"',
            'CREATE USER "intruder" WITH PASSWORD \'x\' WITH ALL PRIVILEGES',
        ):
            with pytest.raises(RuntimeError, match=r"not authorized|requires admin"):
                await reader.query(statement, write=True)
    async with InfluxClient(settings, role="writer") as writer:
        assert (await writer.write_once([line])).written == 1
        with pytest.raises(RuntimeError, match="not authorized"):
            await writer.query('SELECT * FROM "security_probe"')  # the writer does not read
    async with InfluxClient(settings, role=None) as anonymous:
        with pytest.raises(RuntimeError, match=r"unable to parse authentication credentials|authoriz"):
            await anonymous.query('SELECT * FROM "vitals" LIMIT 1')
