"""`ivigwatch influx setup|backfill`: retention policies and 1-minute vitals rollups (docs/schema.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TypeVar

import typer
from pydantic import ValidationError

from streams.apps.cli.unreachable import influx_unreachable
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from streams.infra.sinks.influx.influx_schema import backfill_rollups, ensure_schema

app = typer.Typer(
    help="Set up InfluxDB's retention policies and vitals rollups, or backfill rollups of a past period.",
    no_args_is_help=True,
)

T = TypeVar("T")
BACKFILL_TIMEOUT = 600.0  # seconds per InfluxDB request: one 7-day chunk of SELECT ... INTO


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _fail(str(first.get("msg", exc)).removeprefix("Value error, "), 2) from None


def _run(settings: Settings, work: Callable[[InfluxClient], Awaitable[T]], timeout: float = 30.0) -> T:
    async def main() -> T:
        async with InfluxClient(settings, timeout=timeout, role="admin") as client:
            return await work(client)

    try:
        return asyncio.run(main())
    except InfluxUnavailable as exc:
        raise _fail(influx_unreachable(exc)) from None
    except RuntimeError as exc:  # an InfluxQL error answer, e.g. a user without admin rights
        hint = " (run `ivigwatch influx setup` first)" if "not found" in str(exc) else ""
        raise _fail(f"InfluxDB refused it: {exc}{hint}") from None


def parse_time(text: str, option: str) -> datetime:
    """RFC 3339 (`2024-03-01T08:00:00Z`) or a date (`2024-03-01`, midnight UTC); no offset = UTC."""
    try:
        parsed = datetime.fromisoformat(text) if "T" in text or " " in text else None
        if parsed is None:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise _fail(f"{option}: {text!r} is not an RFC 3339 time or a YYYY-MM-DD date", 2) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@app.command()
def setup() -> None:
    """Create or update the retention policies (safe to re-run).

    Creates the database and the policies when missing, alters a policy whose duration differs from
    the settings, drops the rollup continuous query of earlier versions (the writer worker computes
    the rollups now), and prints every statement it ran.
    """
    settings = _settings()
    changes = _run(settings, lambda client: ensure_schema(client, settings))
    for change in changes:
        typer.echo(change)
    raw, rollup = settings.influx_raw_retention, settings.influx_rollup_retention
    state = f"{len(changes)} change(s)" if changes else "already up to date"
    typer.echo(f"{settings.influx_db}: raw points kept {raw}, 1-minute rollups kept {rollup}; {state}")


@app.command()
def backfill(
    since: str = typer.Option(..., "--since", help="Start (RFC 3339 or YYYY-MM-DD; no offset = UTC)"),
    until: str | None = typer.Option(None, "--until", help="End, exclusive (default: now)"),
) -> None:
    """Compute the 1-minute vitals rollups of a past period (after importing or replaying it).

    The writer worker computes the minutes it writes; imports and gaps need this. Re-running a
    backfill rewrites the same points.
    """
    settings = _settings()
    start = parse_time(since, "--since")
    end = parse_time(until, "--until") if until is not None else datetime.now(UTC)
    if end <= start:
        raise _fail("--until must be after --since", 2)
    written = _run(settings, lambda client: backfill_rollups(client, settings, start, end), BACKFILL_TIMEOUT)
    typer.echo(
        f"{settings.influx_db}: {written} rollup point(s) of 1 minute written for "
        f"{start.isoformat()} to {end.isoformat()}"
    )
