"""`ivigwatch report SESSION` and `ivigwatch report --cohort --since TS`: PNG figures and HTML pages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from pydantic import TypeAdapter, ValidationError

from agents.rules.loader import RuleFileError, load_rules
from models.events import EventTime
from models.ruleset import RuleSet
from streams.apps.cli.unreachable import influx_unreachable
from streams.apps.sessions import SessionNotFound, SessionRecord, check_id, load_session, sessions_started
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable

_TIME = TypeAdapter[datetime](EventTime)


class _Usage(ValueError):
    """A bad argument: exit 2 with this message."""


class NoSessions(LookupError):
    """No session started in the cohort's period."""


def parse_time(value: str, option: str) -> datetime:
    """An RFC 3339 time with an offset, or a date (midnight UTC)."""
    try:
        return _TIME.validate_python(value)
    except ValidationError:
        pass
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise _Usage(f"{option}: not an RFC 3339 time with an offset, nor a date (YYYY-MM-DD)") from None


def _stamp(ts: datetime | None) -> str:
    return "now" if ts is None else ts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def report_command(
    session: str | None = typer.Argument(None, help="Session id (leave out with --cohort)"),
    cohort: bool = typer.Option(False, "--cohort", help="Summarise the sessions started in a period"),
    since: str | None = typer.Option(None, help="Cohort: sessions started at or after this time"),
    until: str | None = typer.Option(None, help="Cohort: ... and before this time (default: no end)"),
    out: Path = typer.Option(Path(), "--out", help="Folder for the PNG and HTML files"),  # noqa: B008
    rules: Path | None = typer.Option(  # noqa: B008
        None, "--rules", help="Draw the thresholds of this rule file instead of the active one"
    ),
) -> None:
    """Write a PNG figure and a self-contained HTML page of one session, or of a cohort of sessions.

    Times are RFC 3339 with an offset (2026-03-02T09:00:00Z) or dates (2026-03-02, midnight UTC).
    """
    settings = get_settings()
    try:
        job = _job(settings, session, cohort, since, until, rules, out)
    except (ValueError, RuleFileError) as exc:  # bad arguments, check_id's refusal, a bad rule file
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    try:
        paths = asyncio.run(job)
    except InfluxUnavailable as exc:
        typer.echo(influx_unreachable(exc), err=True)
        raise typer.Exit(1) from None
    except (SessionNotFound, NoSessions) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except RuntimeError as exc:  # an InfluxQL error answer, for example a database that does not exist
        typer.echo(f"{exc} (database {settings.influx_db!r} at {settings.influx_base_url})", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"{exc.filename or out}: cannot write ({exc.strerror})", err=True)
        raise typer.Exit(1) from None
    for path in paths:
        typer.echo(str(path))


def _job(
    settings: Settings,
    session: str | None,
    cohort: bool,
    since: str | None,
    until: str | None,
    rules: Path | None,
    out: Path,
) -> Coroutine[None, None, list[Path]]:
    """What to run, once the arguments and the rule file are known to be good."""
    if cohort == (session is not None):
        raise _Usage("give a SESSION id, or --cohort --since TS (not both)")
    if not cohort and (since or until):
        raise _Usage("--since and --until go with --cohort")
    ruleset = load_rules(rules if rules is not None else settings.rules_file)
    if session is not None:
        return _session(settings, check_id(session), ruleset, out)
    if since is None:
        raise _Usage("--cohort needs --since TS")
    until_ts = parse_time(until, "--until") if until else None
    return _cohort(settings, ruleset, parse_time(since, "--since"), until_ts, out)


def _write(out: Path, stem: str, png: bytes, page: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    png_path, html_path = out / f"{stem}.png", out / f"{stem}.html"
    png_path.write_bytes(png)
    html_path.write_text(page, encoding="utf-8")
    return [png_path, html_path]


async def _session(settings: Settings, session_id: str, rules: RuleSet, out: Path) -> list[Path]:
    from streams.apps import report  # matplotlib loads only when a report is drawn

    async with InfluxClient(settings, role="reader") as client:
        record = await load_session(client, session_id)
    png = report.session_png(record, rules)
    return _write(out, f"report-{session_id}", png, report.session_html(record, rules, png))


async def _cohort(
    settings: Settings, rules: RuleSet, since: datetime, until: datetime | None, out: Path
) -> list[Path]:
    from streams.apps import report

    records: list[SessionRecord] = []
    async with InfluxClient(settings, role="reader") as client:
        for session_id in await sessions_started(client, since, until):
            records.append(await load_session(client, session_id))  # noqa: PERF401  (awaited one by one)
    if not records:
        span = (
            f"between {since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M}"
            if until
            else f"since {since:%Y-%m-%d %H:%M}"
        )
        span += " UTC"
        raise NoSessions(f"no session started {span} in InfluxDB database {settings.influx_db!r}")
    rows = [report.cohort_row(r) for r in records]
    png = report.cohort_png(rows, rules, since, until)
    stem = re.sub(r"[^A-Za-z0-9._-]", "", f"cohort-{_stamp(since)}-{_stamp(until)}")
    return _write(out, stem, png, report.cohort_html(rows, rules, since, until, png))
