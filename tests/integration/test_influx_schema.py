"""Retention policies, backfills and the writer's own rollups, on the real local InfluxDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from deploy import local_influx
from models.events import Vitals
from models.parsing import parse_event
from streams.apps.cli.main import app
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.influx_schema import (
    backfill_rollups,
    continuous_queries,
    ensure_schema,
    floor_minute,
    retention_policies,
)
from streams.infra.sinks.influx.influx_sink import InfluxSink
from streams.infra.sinks.influx.line_protocol import event_point, to_line
from streams.infra.sinks.influx.rollup_writer import RollupReport, RollupWriter
from tests.integration.conftest import local_settings

pytestmark = pytest.mark.integration

WEEK = 7 * 86400


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A local InfluxDB of its own (the stack's InfluxDB half, started as `stack up` starts it)."""
    settings = local_settings(tmp_path_factory.mktemp("schema"), influx_db="ivig_schema")
    local_influx.ensure_running(settings, log=lambda line: None)
    try:
        yield settings
    finally:
        local_influx.stop(settings, log=lambda line: None)


def with_db(settings: Settings, db: str, **overrides: Any) -> Settings:
    return Settings(**{**settings.model_dump(), "influx_db": db, **overrides})


def vitals_line(ts: datetime, patient: str, session: str, **values: Any) -> str:
    event = {"type": "vitals", "patient_id": patient, "session_id": session, "ts": ts.isoformat(), **values}
    return to_line(event_point(parse_event(json.dumps(event))))


async def test_the_stack_sets_up_retention_and_rollups_and_a_second_setup_changes_nothing(
    influx: Settings,
) -> None:
    async with InfluxClient(influx, role="admin") as client:
        policies = await retention_policies(client, influx.influx_db)
        queries = await continuous_queries(client, influx.influx_db)
        assert await ensure_schema(client, influx) == []
    assert (policies["autogen"].seconds, policies["autogen"].default) == (520 * WEEK, True)
    assert (policies["rollup"].seconds, policies["rollup"].default) == (None, False)
    assert queries == {}  # the writer computes the rollups: no continuous query
    logged: list[str] = []
    local_influx.ensure_running(influx, log=logged.append)  # `stack up` on a running stack
    assert len(logged) == 1 and "already running" in logged[0]


async def test_a_changed_duration_is_altered_and_the_default_restored(influx: Settings) -> None:
    first = with_db(influx, "ivig_alter")
    changed = with_db(influx, "ivig_alter", influx_raw_retention="30d", influx_rollup_retention="104w")
    async with InfluxClient(first, role="admin") as client:
        created = await ensure_schema(client, first)
        altered = await ensure_schema(client, changed)
        again = await ensure_schema(client, changed)
        await client.query(
            'CREATE RETENTION POLICY "other" ON "ivig_alter" DURATION 1d REPLICATION 1 DEFAULT', write=True
        )
        restored = await ensure_schema(client, changed)
        policies = await retention_policies(client, "ivig_alter")
    assert created == [
        'CREATE DATABASE "ivig_alter"',
        'ALTER RETENTION POLICY "autogen" ON "ivig_alter" DURATION 520w SHARD DURATION 7d',
        'CREATE RETENTION POLICY "rollup" ON "ivig_alter" DURATION INF REPLICATION 1 SHARD DURATION 7d',
    ]
    assert altered == [
        'ALTER RETENTION POLICY "autogen" ON "ivig_alter" DURATION 30d SHARD DURATION 1d',
        'ALTER RETENTION POLICY "rollup" ON "ivig_alter" DURATION 104w SHARD DURATION 7d',
    ]
    assert again == []
    assert restored == ['ALTER RETENTION POLICY "autogen" ON "ivig_alter" DEFAULT']
    assert (policies["autogen"].seconds, policies["autogen"].default) == (30 * 86400, True)
    assert (policies["rollup"].seconds, policies["other"].default) == (104 * WEEK, False)


async def test_backfill_writes_the_minute_aggregates_of_a_past_period_idempotently(influx: Settings) -> None:
    settings = with_db(influx, "ivig_backfill")
    minute = floor_minute(datetime.now(UTC) - timedelta(days=730))  # two years ago
    lines = [
        vitals_line(
            minute + timedelta(seconds=5), "pt-a", "pt-a-d1", heart_rate=80, spo2=97, temperature_c=36.8
        ),
        vitals_line(minute + timedelta(seconds=20), "pt-a", "pt-a-d1", heart_rate=90, spo2=95),
        vitals_line(
            minute + timedelta(seconds=50), "pt-a", "pt-a-d1", heart_rate=100, spo2=96, on_oxygen=True
        ),
        vitals_line(minute + timedelta(seconds=70), "pt-a", "pt-a-d1", heart_rate=70),
        vitals_line(minute + timedelta(seconds=30), "pt-b", "pt-b-d4", heart_rate=60, systolic_bp=120),
        vitals_line(minute - timedelta(days=365), "pt-a", "pt-a-d0", weight_kg=70.5),  # three years ago
    ]
    async with InfluxClient(settings, role="admin") as client:
        await ensure_schema(client, settings)
        assert (await client.write_once(lines)).written == len(lines)
        # an unaligned range is widened to whole minutes: the first minute is not cut to its second half
        narrow = await backfill_rollups(
            client, settings, minute + timedelta(seconds=30), minute + timedelta(seconds=61)
        )
        rows = await rollup_rows(client, settings)
        wide = await backfill_rollups(
            client, settings, minute - timedelta(days=400), minute + timedelta(days=1)
        )
        wide_again = await backfill_rollups(
            client, settings, minute - timedelta(days=400), minute + timedelta(days=1)
        )
        all_rows = await rollup_rows(client, settings)
    minute_ms = int(minute.timestamp() * 1000)
    assert narrow == 3
    first = rows[(minute_ms, "pt-a", "pt-a-d1")]
    assert (first["heart_rate_mean"], first["heart_rate_min"], first["heart_rate_max"]) == (90, 80, 100)
    assert (first["spo2_mean"], first["spo2_min"], first["spo2_max"], first["readings"]) == (96, 95, 97, 3)
    assert (first["temperature_c_mean"], first["temperature_c_min"], first["temperature_c_max"]) == (
        36.8,
    ) * 3
    assert first.get("systolic_bp_mean") is None and first.get("weight_kg_max") is None
    second = rows[(minute_ms + 60_000, "pt-a", "pt-a-d1")]
    assert (second["heart_rate_mean"], second["heart_rate_min"], second["readings"]) == (70, 70, 1)
    other = rows[(minute_ms, "pt-b", "pt-b-d4")]
    assert (other["heart_rate_mean"], other["systolic_bp_max"], other["readings"]) == (60, 120, 1)
    assert len(rows) == 3
    assert wide == wide_again == 4 and len(all_rows) == 4  # a re-run overwrites, never adds
    old = all_rows[(minute_ms - 365 * 86_400_000, "pt-a", "pt-a-d0")]
    assert (old["weight_kg_mean"], old["weight_kg_min"], old["weight_kg_max"], old["readings"]) == (
        70.5,
    ) * 3 + (1,)
    assert {k: v for k, v in all_rows.items() if k in rows} == rows


Rows = dict[tuple[int, str, str], dict[str, Any]]


async def rollup_rows(client: InfluxClient, settings: Settings) -> Rows:
    series = await client.query(f'SELECT * FROM "{settings.influx_db}"."rollup"."vitals_1m"')
    found: dict[tuple[int, str, str], dict[str, Any]] = {}
    for s in series:
        for row in s["values"]:
            item = dict(zip(s["columns"], row, strict=True))
            key = (item["time"], item["patient_id"], item["session_id"])
            found[key] = {name: value for name, value in item.items() if value is not None}
    return found


async def test_a_short_raw_retention_refuses_older_points(influx: Settings) -> None:
    """Why the raw default is long: InfluxDB drops a point older than its policy on write."""
    settings = with_db(influx, "ivig_short", influx_raw_retention="1h")
    now = datetime.now(UTC)
    lines = [
        vitals_line(now - timedelta(hours=2), "pt-c", "pt-c-d1", heart_rate=75),
        vitals_line(now, "pt-c", "pt-c-d1", heart_rate=76),
    ]
    async with InfluxClient(settings, role="admin") as client:
        await ensure_schema(client, settings)
        report = await client.write_once(lines)
    assert report.written == 1
    assert [(line, reason) for line, reason in report.rejected] == [(lines[0], "partial write")]


def test_the_cli_sets_up_and_backfills(influx: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVIGWATCH_LOCAL_INFLUX_PORT", str(influx.local_influx_port))
    monkeypatch.setenv("IVIGWATCH_STATE_DIR", str(influx.state_dir))  # its generated admin login
    monkeypatch.delenv("IVIGWATCH_INFLUX_URL", raising=False)
    monkeypatch.setenv("IVIGWATCH_INFLUX_DB", "ivig_cli")
    monkeypatch.setenv("IVIGWATCH_INFLUX_ROLLUP_RETENTION", "520w")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["influx", "setup"])
        second = runner.invoke(app, ["influx", "setup"])
        backfill = runner.invoke(
            app, ["influx", "backfill", "--since", "2020-01-01", "--until", "2020-02-01"]
        )
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0 and 'CREATE DATABASE "ivig_cli"' in first.stdout
    assert "raw points kept 520w, 1-minute rollups kept 520w; 3 change(s)" in first.stdout
    assert second.exit_code == 0 and second.stdout.strip().endswith("already up to date")
    assert backfill.exit_code == 0 and "0 rollup point(s)" in backfill.stdout


OLD_CQ = (
    'CREATE CONTINUOUS QUERY "vitals_1m" ON "ivig_upgrade" RESAMPLE EVERY 1m FOR 1h BEGIN '
    'SELECT mean("heart_rate") AS "heart_rate_mean", count("on_oxygen") AS "readings" '
    'INTO "ivig_upgrade"."rollup"."vitals_1m" FROM "ivig_upgrade"."autogen"."vitals" '
    'GROUP BY time(1m), "patient_id", "session_id" END'
)


async def test_the_continuous_query_of_an_earlier_version_is_dropped(influx: Settings) -> None:
    settings = with_db(influx, "ivig_upgrade")
    async with InfluxClient(settings, role="admin") as client:
        await ensure_schema(client, settings)
        await client.query(OLD_CQ, write=True)  # as the earlier version's setup created it
        assert list(await continuous_queries(client, "ivig_upgrade")) == ["vitals_1m"]
        upgraded = await ensure_schema(client, settings)
        left = await continuous_queries(client, "ivig_upgrade")
        again = await ensure_schema(client, settings)
    assert upgraded == ['DROP CONTINUOUS QUERY "vitals_1m" ON "ivig_upgrade"']
    assert left == {} and again == []


def vitals(ts: datetime, patient: str, session: str, **values: Any) -> Vitals:
    event = {"type": "vitals", "patient_id": patient, "session_id": session, "ts": ts.isoformat(), **values}
    parsed = parse_event(json.dumps(event))
    assert isinstance(parsed, Vitals)
    return parsed


async def test_the_writers_rollup_of_a_minute_is_rewritten_by_late_readings_and_equals_the_backfills(
    influx: Settings,
) -> None:
    """The writer's path (raw points first, then the rollups), as the writer and reader users: a late
    reading for a minute held in memory, one for a minute memory dropped, a restarted writer and a
    redelivered reading each rewrite the minute's point, equal to what `backfill_rollups` computes."""
    settings = with_db(influx, "ivig_writer_rollups")
    minute = floor_minute(datetime.now(UTC) - timedelta(days=2))
    patient, session = "pt-w", "pt-w-d1"
    async with InfluxClient(settings, role="admin") as admin:
        await ensure_schema(admin, settings)
    sink = InfluxSink(InfluxClient(settings, role="writer"), 5.0)
    rollups = RollupWriter(sink, InfluxClient(settings, role="reader"))
    restarted = RollupWriter(sink, InfluxClient(settings, role="reader"))
    try:
        ours, theirs, written = await _writer_path(settings, sink, rollups, restarted, minute)
    finally:
        await sink.close()
        await rollups.close()
        await restarted.close()

    assert written == len(theirs) == len(ours) == 4
    minute_ms = int(minute.timestamp() * 1000)
    late = ours[(minute_ms, patient, session)]
    assert late["readings"] == 5 and (late["heart_rate_min"], late["heart_rate_max"]) == (80, 101.7)
    assert late["respiratory_rate_mean"] == 18 and late["spo2_max"] == 99
    assert late["temperature_c_mean"] == 36.8 and late["heart_rate_mean"] == pytest.approx(371.8 / 4)
    for key, row in theirs.items():
        assert ours[key].keys() == row.keys()
        for name, value in row.items():
            # means are summed in another order than InfluxDB's: equal up to the last bits of a float
            assert ours[key][name] == (pytest.approx(value, rel=1e-12) if name.endswith("_mean") else value)


async def _writer_path(
    settings: Settings, sink: InfluxSink, rollups: RollupWriter, restarted: RollupWriter, minute: datetime
) -> tuple[Rows, Rows, int]:
    patient, session = "pt-w", "pt-w-d1"

    async def write(batch: list[Vitals], through: RollupWriter) -> RollupReport:
        report = await sink.write_report([to_line(event_point(v)) for v in batch])
        assert report.written == len(batch)
        return await through.write(batch)

    at = [minute + timedelta(seconds=s) for s in range(60)]
    first = await write(
        [
            vitals(at[5], patient, session, heart_rate=80.0, spo2=97, temperature_c=36.8),
            vitals(at[20], patient, session, heart_rate=90.0, spo2=95),
            vitals(at[30], "pt-x", "pt-x-d4", heart_rate=60, systolic_bp=120),
            vitals(minute + timedelta(seconds=65), patient, session, heart_rate=70.3),
        ],
        rollups,
    )
    # a minute first seen is read back once (a writer before this one may have written some of it)
    assert (first.read_back, first.written) == (3, 3)
    late_held = await write([vitals(at[50], patient, session, heart_rate=100.1, on_oxygen=True)], rollups)
    assert (late_held.read_back, late_held.written) == (0, 1)  # still in memory: no query
    now_later = await write([vitals(minute + timedelta(minutes=20), patient, session, spo2=94)], rollups)
    assert now_later.read_back == 1
    late_dropped = await write([vitals(at[55], patient, session, heart_rate=101.7, spo2=99)], rollups)
    assert (late_dropped.read_back, late_dropped.written) == (1, 1)  # 20 min back: read back
    after_restart = await write([vitals(at[56], patient, session, respiratory_rate=18)], restarted)
    redelivered = await write([vitals(at[56], patient, session, respiratory_rate=18)], restarted)
    assert (after_restart.read_back, redelivered.read_back) == (1, 1)
    async with InfluxClient(settings, role="admin") as admin:
        ours = await rollup_rows(admin, settings)
        written = await backfill_rollups(admin, settings, minute, minute + timedelta(minutes=21))
        theirs = await rollup_rows(admin, settings)
    return ours, theirs, written
