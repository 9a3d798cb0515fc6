"""`ivigwatch import FILE.jsonl`: load recorded events, nurse actions and their alerts into InfluxDB."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import typer
from pydantic import TypeAdapter, ValidationError

from agents.rules.loader import RuleFileError, load_rules
from models.events import EventTime
from models.ruleset import RuleSet
from streams.apps.cli.unreachable import influx_unreachable
from streams.apps.influx_import import ImportSummary, import_lines
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from streams.infra.sinks.influx.influx_schema import backfill_rollups, ensure_schema

_TIME = TypeAdapter[datetime](EventTime)


def import_command(
    file: Path = typer.Argument(..., help="JSONL of events and nurse actions (what `replay` reads)"),  # noqa: B008
    rules: Path | None = typer.Option(None, "--rules", help="Raise the alerts under this rule file"),  # noqa: B008
    until: str | None = typer.Option(None, help="Move the rules' clock on to this time after the last line"),
) -> None:
    """Write a recorded file's events, nurse actions and the alerts the rules give it to InfluxDB."""
    settings = get_settings()
    try:
        ruleset = load_rules(rules if rules is not None else settings.rules_file)
        until_ts = _TIME.validate_python(until) if until else None
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except RuleFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except ValidationError:
        typer.echo("--until: not an RFC 3339 time with an offset", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"{file}: cannot read ({exc.strerror})", err=True)
        raise typer.Exit(1) from None
    try:
        summary = asyncio.run(_run(settings, lines, ruleset, until_ts))
    except InfluxUnavailable as exc:
        typer.echo(influx_unreachable(exc), err=True)
        raise typer.Exit(1) from None
    for bad in summary.bad_lines:
        typer.echo(f"line {bad.line_no}: {bad.reason}" if bad.line_no else bad.reason, err=True)
    span = ""
    if summary.first and summary.last:
        span = f", {summary.first:%Y-%m-%d %H:%M} to {summary.last:%Y-%m-%d %H:%M} UTC"
    typer.echo(
        f"imported {summary.events} events, {summary.actions} nurse actions and {summary.alerts} alert "
        f"messages into {settings.influx_db} ({len(summary.bad_lines)} lines refused){span}; "
        f"{summary.rollup_points} 1-minute rollup points rebuilt"
    )


async def _run(
    settings: Settings, lines: list[str], ruleset: RuleSet, until: datetime | None
) -> ImportSummary:
    async with InfluxClient(settings, role="admin") as admin:
        await ensure_schema(admin, settings)
    async with InfluxClient(settings, role="writer") as writer:
        summary = await import_lines(
            writer,
            lines,
            ruleset,
            until=until,
            progress=lambda done, total: typer.echo(f"  wrote {done:,} of {total:,} points", err=True),
        )
    if summary.first is not None and summary.last is not None:
        # Rebuilding rollups (SELECT ... INTO) reads and writes: the admin does it, not the writer.
        async with InfluxClient(settings, role="admin") as admin:
            summary.rollup_points = await backfill_rollups(
                admin, settings, summary.first, summary.last + timedelta(minutes=1)
            )
    return summary
