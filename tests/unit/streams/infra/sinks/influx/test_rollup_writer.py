"""The writer's rollup I/O against fakes: read-back of unknown minutes, the `rollup` policy, retries
while InfluxDB is down, and a refused read-back that names no patient."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from models.events import VITAL_NAMES
from streams.infra.sinks.influx.influx_client import InfluxUnavailable, WriteReport
from streams.infra.sinks.influx.influx_sink import InfluxSink
from streams.infra.sinks.influx.rollup_writer import RollupWriter
from tests.unit.streams.infra.sinks.influx.test_rollups import MINUTE_START_MS, reading


class FakeWriter:
    def __init__(self) -> None:
        self.writes: list[tuple[list[str], str | None]] = []

    async def write_once(self, lines: Sequence[str], *, rp: str | None = None) -> WriteReport:
        self.writes.append((list(lines), rp))
        return WriteReport(written=len(lines))


class FakeReader:
    """/query as the reader: `failures` outages first, then `answer` (or `refusal` raised)."""

    db = "ivig"

    def __init__(self, answer: list[dict[str, Any]], failures: int = 0, refusal: str | None = None) -> None:
        self.answer, self.failures, self.refusal = answer, failures, refusal
        self.queries: list[str] = []

    async def query(self, influxql: str, *, write: bool = False) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        if self.failures:
            self.failures -= 1
            raise InfluxUnavailable("InfluxDB unreachable at http://127.0.0.1:1: ClientConnectorError")
        if self.refusal:
            raise RuntimeError(self.refusal)
        return self.answer

    async def close(self) -> None:
        pass


def raw(offset_ms: int, **values: float) -> dict[str, Any]:
    return {
        "tags": {"patient_id": "pt-a", "session_id": "pt-a-d1", "device_id": ""},
        "columns": ["time", *VITAL_NAMES, "on_oxygen"],
        "values": [[MINUTE_START_MS + offset_ms, *[values.get(n) for n in VITAL_NAMES], False]],
    }


def writer(reader: FakeReader) -> tuple[RollupWriter, FakeWriter, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    client = FakeWriter()
    sink = InfluxSink(client, 5.0, sleep=sleep)  # type: ignore[arg-type]
    return RollupWriter(sink, reader), client, slept  # type: ignore[arg-type]


async def test_an_unknown_minute_is_read_back_then_kept_in_memory() -> None:
    # InfluxDB already holds a point of the minute written before (another writer, before a restart)
    reader = FakeReader([raw(1000, heart_rate=60), raw(5000, heart_rate=80)])
    rollups, client, _ = writer(reader)
    first = await rollups.write([reading(5, heart_rate=80)])
    second = await rollups.write([reading(9, heart_rate=100)])
    assert len(reader.queries) == 1 and "'pt-a-d1'" in reader.queries[0]
    assert (first.read_back, first.written, second.read_back, second.written) == (1, 1, 0, 1)
    (lines1, rp1), (lines2, rp2) = client.writes
    assert rp1 == rp2 == "rollup"
    assert lines1 == [
        "vitals_1m,patient_id=pt-a,session_id=pt-a-d1 heart_rate_mean=70.0,heart_rate_min=60.0,"
        f"heart_rate_max=80.0,readings=2i {MINUTE_START_MS}"
    ]
    assert "heart_rate_mean=80.0,heart_rate_min=60.0,heart_rate_max=100.0,readings=3i" in lines2[0]


async def test_the_read_back_is_held_and_retried_while_influxdb_is_down() -> None:
    reader = FakeReader([raw(5000, spo2=97)], failures=3)
    rollups, client, slept = writer(reader)
    report = await rollups.write([reading(5, spo2=97)])
    assert slept == [0.5, 1.0, 2.0] and len(reader.queries) == 4
    assert report.written == 1 and "spo2_mean=97.0" in client.writes[0][0][0]


async def test_a_refused_read_back_writes_nothing_for_the_minute_and_logs_no_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusal = (
        "error authorizing query: ivigwatch-writer not authorized to execute statement 'SELECT ... pt-a-d1'"
    )
    rollups, client, _ = writer(FakeReader([], refusal=refusal))
    with caplog.at_level(logging.WARNING):
        report = await rollups.write([reading(5, spo2=97)])
    assert (report.written, report.unread) == (0, 1) and client.writes == []
    assert (
        "not authorized" in caplog.text and "influx backfill --since 2026-03-02T09:30:00+00:00" in caplog.text
    )
    assert "pt-a" not in caplog.text and "97" not in caplog.text
