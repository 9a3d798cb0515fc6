"""`ivigwatch roster check|who`: validate an on-call roster and warn about its gaps; who is on call."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from agents.roster_coverage import CoverageGap, coverage_gaps, unknown_people
from agents.roster_file import RosterFileError, load_roster
from agents.roster_resolution import Gap, on_call
from models.alerts import Severity
from models.roster import PAGED, Roster
from streams.infra.settings import get_settings

app = typer.Typer(help="Check an on-call roster file, or show who is on call.", no_args_is_help=True)


def _load(file: Path) -> Roster:
    try:
        return load_roster(file)
    except RosterFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _when(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        typer.echo(f"--at {at!r}: not an ISO 8601 time", err=True)
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        typer.echo("--at needs an offset (e.g. 2026-12-24T19:00-05:00 or ...Z)", err=True)
        raise typer.Exit(2)
    return moment


def _hours(gap: CoverageGap) -> str:
    hours = (gap.end - gap.start).total_seconds() / 3600
    return f"{hours:.1f} h" if hours % 1 else f"{hours:.0f} h"


def gap_warning(gap: CoverageGap, zone: ZoneInfo) -> str:
    reaches = ", ".join(f"{s.value} level {level}" for s, level in gap.reaches)
    start, end = gap.start.astimezone(zone), gap.end.astimezone(zone)
    return (
        f"nobody on call as {gap.slot.value} (pages of {reaches} would go to the fallback) from "
        f"{start:%a %Y-%m-%d %H:%M} to {end:%a %Y-%m-%d %H:%M} {zone.key} ({_hours(gap)})"
    )


@app.command("check")
def check(
    file: Path = typer.Argument(..., help="The roster file (TOML)"),  # noqa: B008
    days: float = typer.Option(14.0, "--days", min=0.1, help="Warn about gaps over this many days"),
    at: str | None = typer.Option(
        None, "--from", help="Start of the checked stretch (ISO 8601); default now"
    ),
) -> None:
    """Validate a roster (exit 2 when it is bad) and warn about coverage gaps over the next days and
    people it names but does not list (exit 1 when there is a warning)."""
    roster = _load(file)
    start = _when(at)
    zone = ZoneInfo(roster.roster.time_zone)
    info = roster.roster
    typer.echo(
        f"{file}: valid, roster {info.id} version {info.version}: {len(roster.people)} people, "
        f"{len(roster.shifts)} shifts, {len(roster.overrides)} overrides, {len(roster.swaps)} swaps; "
        f"fallback {roster.fallback.id}."
    )
    warnings = [
        f"{where} names {person}, who is not in [[people]]" for where, person in unknown_people(roster)
    ]
    warnings += [gap_warning(g, zone) for g in coverage_gaps(roster, start, days)]
    secrets = roster.secret_names()
    typer.echo(f"The pager needs these secrets in IVIGWATCH_PAGER_SECRETS: {', '.join(secrets)}.")
    here = get_settings().pager_secret_values()
    if here:  # on the pager's host: check its secrets too (names only, never values)
        warnings += [
            f"the secret {name} is not set in IVIGWATCH_PAGER_SECRETS here"
            for name in secrets
            if not here.get(name)
        ]
    if not warnings:
        typer.echo(
            f"No gap in the next {days:g} days from {start.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}."
        )
        return
    typer.echo(f"{len(warnings)} warning(s):")
    for line in warnings:
        typer.echo(f"  WARNING: {line}")
    raise typer.Exit(1)


@app.command("who")
def who(
    file: Path | None = typer.Option(None, "--file", help="Roster file; default IVIGWATCH_PAGER_ROSTER_FILE"),  # noqa: B008
    at: str | None = typer.Option(None, "--at", help="When (ISO 8601 with offset); default now"),
    levels: int = typer.Option(3, "--levels", min=1, help="Escalation levels to show"),
) -> None:
    """Who a page of each severity and escalation level reaches (now, or --at)."""
    path = file or get_settings().pager_roster_file
    if path is None:
        typer.echo("no roster: pass --file or set IVIGWATCH_PAGER_ROSTER_FILE", err=True)
        raise typer.Exit(2)
    roster = _load(path)
    moment = _when(at)
    zone = ZoneInfo(roster.roster.time_zone)
    typer.echo(f"On call at {moment.astimezone(zone):%a %Y-%m-%d %H:%M} {zone.key} ({roster.roster.id}):")
    for severity in sorted(PAGED, key=lambda s: -s.rank):
        for level in range(levels):
            found = on_call(roster, Severity(severity), level, moment)
            slot = roster.slot_for(severity, level)
            whom = f"GAP: {found.reason}" if isinstance(found, Gap) else f"{found.id} ({found.name})"
            typer.echo(f"  {severity.value:8} level {level} -> {slot.value if slot else '-':10} {whom}")
