"""The secured local stack refuses what it must: a wrong Kafka password, a plain-text Kafka client,
a client that does not trust the broker's CA, any write by the InfluxDB reader user, Faust's own pages
and InfluxDB's profiling pages; what the InfluxDB writer can delete; and no file of the stack is
readable by another user."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import stat
import uuid
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import SecretStr

from deploy import local_influx, local_secrets
from deploy.processes import http_request, port_open
from streams.infra.kafka import kafka_clients
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration

FAUST_PAGES = (
    "/",
    "/router/",
    "/router/topics",
    "/router/patient-state/",
    "/table/",
    "/table/patient-state/",
    "/graph/",
    "/stats/",
    "/assignment/",
    "/performance/",
)
PPROF_PAGES = (
    "/debug/pprof/",
    "/debug/pprof/cmdline",
    "/debug/pprof/heap",
    "/debug/pprof/goroutine?debug=1",
    "/debug/pprof/all",
)
STATISTICS_PAGES = ("/debug/vars", "/debug/requests?seconds=1", "/metrics")


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
            "CREATE USER \"intruder\" WITH PASSWORD 'x' WITH ALL PRIVILEGES",
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


async def test_the_influx_writer_can_delete_but_not_change_the_schema(live: Live) -> None:
    """InfluxDB 1.x's WRITE privilege also allows DELETE, DROP SERIES, DROP RETENTION POLICY and DROP
    CONTINUOUS QUERY (SECURITY.md): why only the writer worker and `ivigwatch import` hold it."""
    settings, db = live.settings, live.settings.influx_db
    patient = f"pt-del-{uuid.uuid4().hex[:8]}"
    where = f"\"patient_id\" = '{patient}'"
    async with (
        InfluxClient(settings, role="writer") as writer,
        InfluxClient(settings, role="admin") as admin,
        InfluxClient(settings, role="reader") as reader,
    ):
        line = f"security_delete,patient_id={patient} value=1 1700000000000"
        select = f'SELECT * FROM "security_delete" WHERE {where}'
        assert (await writer.write_once([line])).written == 1
        assert await reader.query(select)
        await writer.query(f'DELETE FROM "security_delete" WHERE {where}', write=True)
        assert await reader.query(select) == []
        assert (await writer.write_once([line])).written == 1
        await writer.query(f'DROP SERIES FROM "security_delete" WHERE {where}', write=True)
        assert await reader.query(select) == []
        rp = f'"probe_rp" ON "{db}"'
        await admin.query(f"CREATE RETENTION POLICY {rp} DURATION 1h REPLICATION 1", write=True)
        await writer.query(f"DROP RETENTION POLICY {rp}", write=True)
        policies = await admin.query(f'SHOW RETENTION POLICIES ON "{db}"')
        assert "probe_rp" not in {row[0] for s in policies for row in s["values"]}
        await admin.query(
            f'CREATE CONTINUOUS QUERY "probe_cq" ON "{db}" BEGIN SELECT count("value") INTO "probe_out" '
            'FROM "security_delete" GROUP BY time(1h) END',
            write=True,
        )
        await writer.query(f'DROP CONTINUOUS QUERY "probe_cq" ON "{db}"', write=True)
        for statement in (
            'DROP MEASUREMENT "security_delete"',
            f'DROP DATABASE "{db}"',
            f'CREATE RETENTION POLICY "probe_rp2" ON "{db}" DURATION 1h REPLICATION 1',
            f'ALTER RETENTION POLICY "autogen" ON "{db}" DURATION 1h',
            f'GRANT ALL ON "{db}" TO "{writer.username}"',
            "SHOW USERS",
        ):
            with pytest.raises(RuntimeError, match="requires admin privilege"):
                await writer.query(statement, write=True)


def _answers(url: str) -> int | None:
    """The HTTP status of GET `url`, or None when the connection is refused."""
    try:
        return http_request(url, timeout=5.0)[0]
    except OSError:
        return None


@pytest.mark.parametrize("role", ["rules", "writer"])
def test_a_worker_serves_healthz_and_no_faust_page(live: Live, role: str) -> None:
    worker = live.rules if role == "rules" else live.writer
    base = worker.health_url.removesuffix("/healthz")
    assert _answers(f"{base}/healthz") == 200
    for path in FAUST_PAGES:
        assert _answers(f"{base}{path}") == 404, path


def machine_addresses() -> set[str]:
    """This machine's IPv4 addresses other than loopback (the one the default route leaves by)."""
    addresses: set[str] = set()
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
        addresses.add(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        found = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        addresses.update(str(info[4][0]) for info in found)
    return {a for a in addresses if not a.startswith("127.")}


def test_influxdb_profiling_and_anonymous_requests_are_closed(live: Live) -> None:
    base = live.settings.influx_base_url
    for path in PPROF_PAGES:
        assert _answers(f"{base}{path}") == 404, path
    assert _answers(f"{base}/query?q=SHOW+DATABASES") == 401
    status, _ = http_request(f"{base}/write?db={live.settings.influx_db}", data={"x": "1"})
    assert status == 401


def test_influxdb_statistics_pages_answer_on_loopback_only_and_hold_no_secret(live: Live) -> None:
    """InfluxDB 1.6 has no setting to close /debug/vars, /debug/requests and /metrics (SECURITY.md):
    they are refused at every other address of the machine, and on loopback carry no password."""
    settings = live.settings
    conf = local_influx.InfluxPaths.of(settings.state_dir).conf.read_text()
    ports = {int(port) for port in re.findall(r'bind-address = "127\.0\.0\.1:(\d+)"', conf)}
    assert ports == {settings.local_influx_port, settings.local_influx_rpc_port}  # HTTP, backup RPC
    for address in machine_addresses():
        for port in ports:
            assert not port_open(address, port, timeout=2.0), f"InfluxDB answers on {address}:{port}"
    logins = local_secrets.read_logins(settings)
    passwords = [user["password"] for group in logins.values() for user in group.values()]
    for path in STATISTICS_PAGES:
        status, body = http_request(f"{settings.influx_base_url}{path}", timeout=15.0)
        assert status == 200, path  # InfluxDB 1.6.7: always served, no login asked
        text = body.decode(errors="replace")
        assert not any(secret in text for secret in passwords), path


def test_no_file_of_the_stack_is_readable_by_others(live: Live) -> None:
    root = live.settings.state_dir
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    open_to_others = [
        f"{oct(stat.S_IMODE(mode))} {path}"
        for path in [root, *root.rglob("*")]
        if not path.is_symlink() and (mode := path.lstat().st_mode) & 0o077
    ]
    assert open_to_others == []
    for part in ("kafka/data", "influxdb/data", "influxdb/wal", "secrets", "faust", "logs"):
        assert (root / part).is_dir(), part  # the walk went through the servers' and workers' files
