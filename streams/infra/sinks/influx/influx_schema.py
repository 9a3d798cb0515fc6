"""Retention policies and 1-minute vitals rollups of the InfluxDB database (v1 API, InfluxQL).

- `autogen`, the database's default policy: every raw point (events, alerts, nurse actions), kept
  for `IVIGWATCH_INFLUX_RAW_RETENTION` (default 520w, so replayed or imported past sessions are not
  refused as "beyond retention policy").
- `rollup`: the measurement `vitals_1m`, mean/min/max of every vital field and the number of
  readings per minute, per `patient_id` and `session_id`, kept for `IVIGWATCH_INFLUX_ROLLUP_RETENTION`
  (default INF). The writer worker fills it as it writes the raw points (`rollups`, `rollup_writer`:
  a late reading rewrites its minute); `backfill_rollups` fills a past range (imports, or after
  the writer could not read a minute back). The continuous query that used to fill it (`vitals_1m`,
  most of InfluxDB's CPU) is no longer created, and `ensure_schema` drops it where it still exists.

The builders below are pure (no I/O); `ensure_schema` and `backfill_rollups` talk to InfluxDB.
docs/schema.md documents the schema for analysts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from models.events import VITAL_NAMES
from streams.infra.retention import Duration, parse_duration

if TYPE_CHECKING:
    from streams.infra.settings import Settings
    from streams.infra.sinks.influx.influx_client import InfluxClient

RAW_POLICY = "autogen"
ROLLUP_POLICY = "rollup"
RAW_MEASUREMENT = "vitals"
ROLLUP_MEASUREMENT = "vitals_1m"
ROLLUP_QUERY = "vitals_1m"
"""The continuous query that filled the rollup before the writer did: dropped by `ensure_schema`."""
ROLLUP_INTERVAL = timedelta(minutes=1)
ROLLUP_TAGS = ("patient_id", "session_id")
ROLLUP_STATS = ("mean", "min", "max")
ROLLUP_COUNT_FIELD = "readings"
COUNTED_FIELD = "on_oxygen"
"""On every vitals point (false when the event left it out): its count is the number of readings."""
BACKFILL_CHUNK = timedelta(days=7)
"""A backfill runs one SELECT ... INTO per 7-day bucket that holds vitals (empty ones are skipped)."""

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_GO_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_go_duration(text: str) -> int | None:
    """Seconds of a duration as SHOW RETENTION POLICIES prints it (`87360h0m0s`); `0s` is INF (None)."""
    seconds = sum(float(n) * _GO_UNIT_SECONDS[unit] for n, unit in _GO_DURATION.findall(text))
    return None if seconds == 0 else round(seconds)


def quote_ident(name: str) -> str:
    """An InfluxQL double-quoted identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def time_literal(ts: datetime) -> str:
    """An InfluxQL RFC 3339 time literal in UTC (naive datetimes are taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return "'" + ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z") + "'"


def create_database(db: str) -> str:
    return f"CREATE DATABASE {quote_ident(db)}"


def create_retention_policy(db: str, name: str, duration: Duration, *, default: bool) -> str:
    return (
        f"CREATE RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)} DURATION {duration.text} "
        f"REPLICATION 1 SHARD DURATION {duration.shard_duration}" + (" DEFAULT" if default else "")
    )


def alter_retention_policy(db: str, name: str, duration: Duration | None, *, default: bool) -> str:
    """ALTER the duration (with its shard duration) and/or make the policy the default."""
    parts = [f"ALTER RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)}"]
    if duration is not None:
        parts.append(f"DURATION {duration.text} SHARD DURATION {duration.shard_duration}")
    if default:
        parts.append("DEFAULT")
    return " ".join(parts)


def rollup_fields() -> list[tuple[str, str, str]]:
    """(function, source field, rollup field) of every value the rollup keeps."""
    fields = [(stat, vital, f"{vital}_{stat}") for vital in VITAL_NAMES for stat in ROLLUP_STATS]
    return [*fields, ("count", COUNTED_FIELD, ROLLUP_COUNT_FIELD)]


def rollup_select(db: str, start: datetime, end: datetime) -> str:
    """SELECT ... INTO the rollup measurement over [start, end), grouped by minute and the rollup tags."""
    columns = ", ".join(f"{fn}({quote_ident(src)}) AS {quote_ident(dst)}" for fn, src, dst in rollup_fields())
    into = f"{quote_ident(db)}.{quote_ident(ROLLUP_POLICY)}.{quote_ident(ROLLUP_MEASUREMENT)}"
    source = f"{quote_ident(db)}.{quote_ident(RAW_POLICY)}.{quote_ident(RAW_MEASUREMENT)}"
    where = f" WHERE time >= {time_literal(start)} AND time < {time_literal(end)}"
    tags = ", ".join(quote_ident(tag) for tag in ROLLUP_TAGS)
    minutes = int(ROLLUP_INTERVAL.total_seconds() // 60)
    # Identifiers are quoted by quote_ident and times are formatted here: nothing comes from input.
    return f"SELECT {columns} INTO {into} FROM {source}{where} GROUP BY time({minutes}m), {tags}"  # noqa: S608


def drop_continuous_query(db: str) -> str:
    return f"DROP CONTINUOUS QUERY {quote_ident(ROLLUP_QUERY)} ON {quote_ident(db)}"


def short(statement: str) -> str:
    """A statement for a log line: a continuous query without its SELECT."""
    return statement.split(" BEGIN ", 1)[0]


def floor_minute(ts: datetime) -> datetime:
    ts = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).replace(second=0, microsecond=0)


def ceil_minute(ts: datetime) -> datetime:
    floor = floor_minute(ts)
    return floor if floor == ts else floor + ROLLUP_INTERVAL


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    seconds: int | None
    default: bool


async def retention_policies(client: InfluxClient, db: str) -> dict[str, Policy]:
    """The database's retention policies by name (RuntimeError naming it when the database is missing)."""
    series = await client.query(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")
    policies: dict[str, Policy] = {}
    for s in series:
        columns = s["columns"]
        for row in s.get("values", []):
            item = dict(zip(columns, row, strict=False))
            policies[item["name"]] = Policy(
                item["name"], parse_go_duration(item["duration"]), item["default"]
            )
    return policies


async def continuous_queries(client: InfluxClient, db: str) -> dict[str, str]:
    """The database's continuous queries: name -> CREATE statement as InfluxDB prints it."""
    found: dict[str, str] = {}
    for s in await client.query("SHOW CONTINUOUS QUERIES"):
        if s.get("name") == db:
            found.update({row[0]: row[1] for row in s.get("values", [])})
    return found


async def ensure_schema(client: InfluxClient, settings: Settings) -> list[str]:
    """Create what is missing and alter what differs: the database and both retention policies; drop
    the rollup continuous query of earlier versions (the writer computes the rollups now). Returns
    the statements it ran; [] when everything was already in place.
    Raises InfluxUnavailable (server down) or RuntimeError (InfluxQL error, e.g. no admin right)."""
    db = settings.influx_db
    changes: list[str] = []

    async def run(statement: str) -> None:
        await client.query(statement, write=True)
        changes.append(statement)

    try:
        policies = await retention_policies(client, db)
    except RuntimeError as exc:
        if "database not found" not in str(exc):
            raise
        await run(create_database(db))
        await client.grant_local_roles()  # the secured local stack's writer and reader users
        policies = await retention_policies(client, db)
    wanted = (
        (RAW_POLICY, parse_duration(settings.influx_raw_retention), True),
        (ROLLUP_POLICY, parse_duration(settings.influx_rollup_retention), False),
    )
    for name, duration, default in wanted:
        current = policies.get(name)
        if current is None:
            await run(create_retention_policy(db, name, duration, default=default))
        elif current.seconds != duration.seconds or (default and not current.default):
            changed = duration if current.seconds != duration.seconds else None
            await run(alter_retention_policy(db, name, changed, default=default and not current.default))
    if ROLLUP_QUERY in await continuous_queries(client, db):
        await run(drop_continuous_query(db))
    return changes


async def backfill_rollups(client: InfluxClient, settings: Settings, start: datetime, end: datetime) -> int:
    """Recompute the rollup of [start, end), widened to whole minutes so no minute is rewritten from
    part of its readings; idempotent (a minute's point is overwritten with the same values). Runs one
    SELECT ... INTO per 7-day bucket holding vitals. Returns the number of rollup points written."""
    start, end = floor_minute(start), ceil_minute(end)
    if end <= start:
        raise ValueError("the end of a backfill must be after its start")
    db = settings.influx_db
    source = f"{quote_ident(db)}.{quote_ident(RAW_POLICY)}.{quote_ident(RAW_MEASUREMENT)}"
    days = BACKFILL_CHUNK.days
    span = f"time >= {time_literal(start)} AND time < {time_literal(end)}"
    buckets = await client.query(
        f"SELECT count({quote_ident(COUNTED_FIELD)}) FROM {source} "  # noqa: S608 - quoted, no input
        f"WHERE {span} GROUP BY time({days}d) fill(none)"
    )
    written = 0
    for bucket_ms in sorted({_row_time(row) for s in buckets for row in s.get("values", [])}):
        bucket = datetime.fromtimestamp(bucket_ms / 1000, UTC)
        chunk_start, chunk_end = max(bucket, start), min(bucket + BACKFILL_CHUNK, end)
        result = await client.query(rollup_select(db, chunk_start, chunk_end), write=True)
        written += sum(int(row[1]) for s in result for row in s.get("values", []))
    return written


def _row_time(row: list[Any]) -> int:
    return int(row[0])
