"""InfluxQL of the retention policies and rollups, the duration settings, the `influx` CLI's errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from deploy.processes import free_ports
from models.events import VITAL_NAMES
from streams.apps.cli.main import app
from streams.infra.retention import parse_duration
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_schema import (
    alter_retention_policy,
    ceil_minute,
    create_retention_policy,
    drop_continuous_query,
    floor_minute,
    parse_go_duration,
    quote_ident,
    rollup_fields,
    rollup_select,
    time_literal,
)

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "normal", "seconds"),
    [
        ("520w", "520w", 520 * 7 * 86400),
        ("90d", "90d", 90 * 86400),
        ("1d12h", "1d12h", 36 * 3600),
        ("1h", "1h", 3600),
        (" 60m ", "60m", 3600),
        ("INF", "INF", None),
        ("inf", "INF", None),
    ],
)
def test_durations_are_influxql_literals_or_inf(text: str, normal: str, seconds: int | None) -> None:
    duration = parse_duration(text)
    assert (duration.text, duration.seconds) == (normal, seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("52 weeks", "not a retention duration"),
        ("10", "not a retention duration"),
        ("5y", "not a retention duration"),
        ("-1h", "not a retention duration"),
        ("1.5h", "not a retention duration"),
        ("1h; DROP DATABASE x", "not a retention duration"),
        ("", "not a retention duration"),
        ("30m", "minimum retention of 1h"),
        ("0s", "minimum retention of 1h"),
        ("20000w", "longer than InfluxDB can hold"),
    ],
)
def test_a_malformed_duration_is_refused_naming_the_rule(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


def test_settings_refuse_a_malformed_duration_at_load_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (Settings().influx_raw_retention, Settings().influx_rollup_retention) == ("520w", "INF")
    monkeypatch.setenv("IVIGWATCH_INFLUX_ROLLUP_RETENTION", "inf")
    monkeypatch.setenv("IVIGWATCH_INFLUX_RAW_RETENTION", "2 years")
    with pytest.raises(ValidationError, match="IVIGWATCH_INFLUX_RAW_RETENTION: '2 years' is not a retention"):
        Settings()
    monkeypatch.setenv("IVIGWATCH_INFLUX_RAW_RETENTION", "104w")
    assert (Settings().influx_raw_retention, Settings().influx_rollup_retention) == ("104w", "INF")


def test_show_retention_policies_durations_are_read_back() -> None:
    assert parse_go_duration("87360h0m0s") == parse_duration("520w").seconds
    assert parse_go_duration("1h0m0s") == 3600
    assert parse_go_duration("0s") is None


def test_identifiers_are_double_quoted_and_escaped() -> None:
    assert quote_ident("ivigwatch") == '"ivigwatch"'
    assert quote_ident('we"ird\\db') == '"we\\"ird\\\\db"'


def test_retention_policy_statements_carry_a_shard_duration_that_fits() -> None:
    assert create_retention_policy("ivig", "autogen", parse_duration("520w"), default=True) == (
        'CREATE RETENTION POLICY "autogen" ON "ivig" DURATION 520w REPLICATION 1 SHARD DURATION 7d DEFAULT'
    )
    assert create_retention_policy('a"b', "rollup", parse_duration("INF"), default=False) == (
        'CREATE RETENTION POLICY "rollup" ON "a\\"b" DURATION INF REPLICATION 1 SHARD DURATION 7d'
    )
    assert alter_retention_policy("ivig", "autogen", parse_duration("30d"), default=False) == (
        'ALTER RETENTION POLICY "autogen" ON "ivig" DURATION 30d SHARD DURATION 1d'
    )
    assert alter_retention_policy("ivig", "autogen", parse_duration("1h"), default=True) == (
        'ALTER RETENTION POLICY "autogen" ON "ivig" DURATION 1h SHARD DURATION 1h DEFAULT'
    )
    assert alter_retention_policy("ivig", "autogen", None, default=True) == (
        'ALTER RETENTION POLICY "autogen" ON "ivig" DEFAULT'
    )


def test_the_rollup_keeps_mean_min_max_of_every_vital_and_the_reading_count() -> None:
    names = [dst for _, _, dst in rollup_fields()]
    assert names[:3] == ["heart_rate_mean", "heart_rate_min", "heart_rate_max"]
    assert len(names) == 3 * len(VITAL_NAMES) + 1 and names[-1] == "readings"
    statement = rollup_select("ivig", datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
    assert statement.startswith('SELECT mean("heart_rate") AS "heart_rate_mean", min("heart_rate")')
    assert 'INTO "ivig"."rollup"."vitals_1m" FROM "ivig"."autogen"."vitals" WHERE time' in statement
    assert statement.endswith('GROUP BY time(1m), "patient_id", "session_id"')


def test_a_backfill_select_has_a_utc_time_range() -> None:
    start = datetime(2024, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    statement = rollup_select("ivig", start, datetime(2024, 3, 2))  # noqa: DTZ001 - naive is UTC
    assert (
        'FROM "ivig"."autogen"."vitals" WHERE time >= \'2024-03-01T08:00:00.000000Z\' '
        "AND time < '2024-03-02T00:00:00.000000Z' GROUP BY time(1m)"
    ) in statement
    assert time_literal(datetime(2024, 1, 1, tzinfo=UTC)) == "'2024-01-01T00:00:00.000000Z'"


def test_backfill_ranges_widen_to_whole_minutes() -> None:
    ts = datetime(2024, 3, 1, 8, 0, 30, 5, tzinfo=UTC)
    assert floor_minute(ts) == datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    assert ceil_minute(ts) == datetime(2024, 3, 1, 8, 1, tzinfo=UTC)
    assert ceil_minute(datetime(2024, 3, 1, 8, 1, tzinfo=UTC)) == datetime(2024, 3, 1, 8, 1, tzinfo=UTC)


def test_the_continuous_query_of_earlier_versions_is_dropped_by_name() -> None:
    assert drop_continuous_query("probe") == 'DROP CONTINUOUS QUERY "vitals_1m" ON "probe"'


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    (dead,) = free_ports(1)
    monkeypatch.setenv("IVIGWATCH_INFLUX_URL", f"http://127.0.0.1:{dead}")  # nothing listens there
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "args", [["influx", "setup"], ["influx", "backfill", "--since", "2024-01-01", "--until", "2024-02-01"]]
)
def test_an_unreachable_influxdb_is_a_one_line_error(env: pytest.MonkeyPatch, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: InfluxDB unreachable at http://127.0.0.1:")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert "ivigwatch stack up" in result.stderr


def test_bad_options_and_settings_are_refused_before_connecting(env: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["influx", "backfill", "--since", "last week"])
    assert result.exit_code == 2 and "--since: 'last week' is not an RFC 3339 time" in result.stderr
    result = runner.invoke(app, ["influx", "backfill", "--since", "2024-02-01", "--until", "2024-01-01"])
    assert result.exit_code == 2 and "--until must be after --since" in result.stderr
    env.setenv("IVIGWATCH_INFLUX_RAW_RETENTION", "forever")
    get_settings.cache_clear()
    result = runner.invoke(app, ["influx", "setup"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: IVIGWATCH_INFLUX_RAW_RETENTION: 'forever' is not a retention")
