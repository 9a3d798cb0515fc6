"""`ivigwatch query`: analysts' named analyses over InfluxDB, or one read-only InfluxQL statement.

Each analysis fetches its rows here and computes its table in `streams.apps.analyses` (pure); the table
prints with rich, or as CSV or JSON (`--format`). How long it took goes after the table (on stderr
for CSV and JSON, so stdout stays data).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table as RichTable

from agents.rules.loader import RuleFileError, load_rules
from models.events import EventTime
from streams.apps import analyses, ppv
from streams.apps.analyses import Table
from streams.apps.cli.unreachable import influx_unreachable
from streams.apps.sessions import SessionNotFound, load_session
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from streams.infra.sinks.influx.line_protocol import ALERTS, INFUSION

_TIME = TypeAdapter[datetime](EventTime)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


FORMAT_HELP = "table (rich), csv or json"
Since = Annotated[
    str | None, typer.Option(help="Only from this time on (RFC 3339 with an offset; inclusive)")
]
Until = Annotated[str | None, typer.Option(help="Only before this time (RFC 3339 with an offset; exclusive)")]
FormatOption = Annotated[Format | None, typer.Option("--format", help=FORMAT_HELP)]

app = typer.Typer(help="Named analyses over the data in InfluxDB, or an ad-hoc read-only InfluxQL query.")


class TimedClient(InfluxClient):
    """Counts the InfluxQL requests and the time spent waiting for them."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, role="reader")  # the reader user: no write reaches InfluxDB
        self.requests, self.seconds = 0, 0.0

    async def query(self, influxql: str, *, write: bool = False) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return await super().query(influxql, write=write)
        finally:
            self.requests += 1
            self.seconds += time.perf_counter() - started


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _parse(name: str, value: str | None) -> datetime | None:
    try:
        return None if value is None else _TIME.validate_python(value)
    except ValidationError:
        _fail(f"{name}: not an RFC 3339 time with an offset (for example 2026-11-24T10:15:00Z)", 2)


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    start, end = _parse("--since", since), _parse("--until", until)
    if start is not None and end is not None and start >= end:
        _fail("--since must be before --until", 2)
    return start, end


def _describe(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "all time"
    return f"{analyses.rfc3339(since) if since else '...'} to {analyses.rfc3339(until) if until else 'now'}"


def _format(ctx: typer.Context, fmt: Format | None) -> Format:
    """`--format` after the analysis name, else before it (`query --format csv alerts`), else table."""
    parent = ctx.parent.obj if ctx.parent is not None else None
    return fmt or (parent if isinstance(parent, Format) else Format.TABLE)


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def show(table: Table, fmt: Format, title: str, caption: str = "") -> None:
    if fmt is Format.JSON:
        typer.echo(json.dumps(table.records(), indent=2))
    elif fmt is Format.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows([_cell(v) for v in row] for row in table.rows)
        typer.echo(buffer.getvalue(), nl=False)
    else:
        rich = RichTable(title=title, caption=caption or None, title_justify="left", caption_justify="left")
        for column in table.columns:
            rich.add_column(column, no_wrap=column == "time")
        for row in table.rows:
            rich.add_row(*(_cell(v) for v in row))
        _console().print(rich if table.rows else f"{title}: no rows")


def _console() -> Console:
    """The terminal's width; 160 columns when printing to a file or pipe (rich would use 80)."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def run(
    work: Callable[[InfluxClient], Awaitable[Table]],
    fmt: Format,
    title: str,
    caption: str = "",
    influxql_error_exit: int = 1,
) -> None:
    """Fetch and compute, print the table and how long it took; InfluxDB errors are one line."""
    settings = get_settings()

    async def go() -> tuple[Table, int, float]:
        client = TimedClient(settings)
        async with client:
            return await work(client), client.requests, client.seconds

    started = time.perf_counter()
    try:
        table, requests, in_influx = asyncio.run(go())
    except InfluxUnavailable as exc:
        _fail(influx_unreachable(exc), 1)
    except SessionNotFound as exc:
        _fail(str(exc), 1)
    except ValueError as exc:  # a session id that is not a pseudonym
        _fail(str(exc), 2)
    except RuntimeError as exc:  # InfluxDB answered with an error
        _fail(f"{exc} (database {settings.influx_db!r} at {settings.influx_base_url})", influxql_error_exit)
    elapsed = time.perf_counter() - started
    show(table, fmt, title, caption)
    note = (
        f"{_plural(len(table.rows), 'row')}; query took {elapsed * 1000:.0f} ms "
        f"({_plural(requests, 'InfluxQL request')}, {in_influx * 1000:.0f} ms in InfluxDB)"
    )
    if fmt is Format.TABLE:
        _console().print(note, style="dim")
    else:
        typer.echo(note, err=True)


def _where(*conditions: str) -> str:
    kept = [c for c in conditions if c]
    return f" WHERE {' AND '.join(kept)}" if kept else ""


def _time(op: str, ts: datetime | None) -> str:
    return f"time {op} {analyses.epoch_ms(ts)}ms" if ts is not None else ""


async def select(client: InfluxClient, columns: tuple[str, ...], measurement: str, *where: str) -> list[Any]:
    # Every part is ours: quoted names, integer times, fixed conditions; no user text reaches it.
    names = ", ".join(f'"{c}"' for c in columns)
    return analyses.rows_of(await client.query(f'SELECT {names} FROM "{measurement}"{_where(*where)}'))  # noqa: S608


async def alert_rows(client: InfluxClient, since: datetime | None) -> list[dict[str, Any]]:
    """Alert messages from `since` on, and the `firing` ones before it (to find each first firing)."""
    columns = ("alert_id", "condition", "severity", "status")
    rows = await select(client, columns, ALERTS, _time(">=", since))
    if since is not None:
        rows += await select(client, columns, ALERTS, "\"status\" = 'firing'", _time("<", since))
    return rows


@app.callback(invoke_without_command=True)
def query(
    ctx: typer.Context,
    influxql: Annotated[
        str | None, typer.Option("--influxql", help="Run one SELECT or SHOW statement")
    ] = None,
    fmt: FormatOption = None,
) -> None:
    """Named analyses over InfluxDB (see the commands), or an ad-hoc read-only --influxql query."""
    ctx.obj = fmt
    if ctx.invoked_subcommand is not None:
        if influxql is not None:
            _fail("--influxql runs alone, without an analysis name", 2)
        return
    if influxql is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    try:
        statement = analyses.read_only_statement(influxql)
    except ValueError as exc:
        _fail(f"--influxql: {exc}", 2)

    async def work(client: InfluxClient) -> Table:
        return analyses.series_table(await client.query(statement))

    run(work, fmt or Format.TABLE, "InfluxQL", influxql_error_exit=2)


@app.command()
def timeline(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id")],
    fmt: FormatOption = None,
) -> None:
    """A session's readings, pump events, symptoms and alert messages in time order, with the phase."""
    try:
        rules = load_rules(get_settings().rules_file)
    except RuleFileError as exc:
        _fail(str(exc), 2)

    async def work(client: InfluxClient) -> Table:
        return analyses.timeline(await load_session(client, session), rules)

    run(work, _format(ctx, fmt), f"Timeline of session {session}")


@app.command()
def reactions(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    fmt: FormatOption = None,
) -> None:
    """Reaction rate of the sessions started in the period, per product and per maximum-rate band."""
    start, end = _period(since, until)
    matches = "|".join(analyses.REACTION_CONDITIONS)

    async def work(client: InfluxClient) -> Table:
        pump_columns = ("count", "session_id", "action", "product", "rate_ml_per_h")
        pump = await select(client, pump_columns, INFUSION, _time(">=", start))
        reacted = await select(
            client,
            ("alert_id", "session_id", "condition"),
            ALERTS,
            f'"condition" =~ /^({matches})$/',
            "\"status\" = 'firing'",
            _time(">=", start),
        )
        return analyses.reactions(pump, reacted, start, end)

    caption = (
        f"reaction = an {', '.join(analyses.REACTION_CONDITIONS[:-1])} or "
        f"{analyses.REACTION_CONDITIONS[-1]} alert in the session; "
        "band = the session's highest pump rate in mL/h"
    )
    run(work, _format(ctx, fmt), f"Reactions, sessions started {_describe(start, end)}", caption)


PPV_ALERT_COLUMNS = (
    "alert_id",
    "session_id",
    "condition",
    "status",
    "rule_id",
    "rate_ml_per_h",
    "outcome",
    "incident_id",
)


async def outcome_rows(client: InfluxClient, since: datetime | None) -> list[dict[str, Any]]:
    """Alert messages from `since` on (and the `firing` ones before it), with what PPV needs."""
    rows = await select(client, PPV_ALERT_COLUMNS, ALERTS, _time(">=", since))
    if since is not None:
        rows += await select(client, PPV_ALERT_COLUMNS, ALERTS, "\"status\" = 'firing'", _time("<", since))
    return rows


@app.command("ppv")
def positive_predictive_value(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    fmt: FormatOption = None,
) -> None:
    """Positive predictive value per rule and condition, by product and rate band: of the alerts
    first fired in the period and resolved with an outcome, the share that needed action."""
    start, end = _period(since, until)

    async def work(client: InfluxClient) -> Table:
        pump = await select(client, ("count", "session_id", "product"), INFUSION)
        return ppv.ppv(await outcome_rows(client, start), pump, start, end)

    caption = (
        "ppv = needed_action / resolved with an outcome (contract v2); band = the pump rate when the alert "
        "first fired, in mL/h; mind the counts: a small group's ppv says little"
    )
    run(
        work,
        _format(ctx, fmt),
        f"Positive predictive value, alerts first fired {_describe(start, end)}",
        caption,
    )


@app.command("alerts")
def alerts_by_condition(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    fmt: FormatOption = None,
) -> None:
    """Alerts that first fired in the period, by condition and the highest severity they reached."""
    _over_alerts(ctx, since, until, fmt, analyses.alert_counts, "Alerts first fired")


@app.command("ack-time")
def ack_time(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    fmt: FormatOption = None,
) -> None:
    """Minutes from an alert's first firing to its acknowledgement, per severity (median, p90)."""
    caption = "median and p90 by nearest rank; severity when acknowledged (else the highest reached)"
    _over_alerts(
        ctx, since, until, fmt, analyses.ack_times, "Time to acknowledge, alerts first fired", caption
    )


def _over_alerts(
    ctx: typer.Context,
    since: str | None,
    until: str | None,
    fmt: Format | None,
    analysis: Callable[[list[dict[str, Any]], datetime | None, datetime | None], Table],
    title: str,
    caption: str = "",
) -> None:
    """An analysis of the alert messages of a period, fetched once and printed."""
    start, end = _period(since, until)

    async def work(client: InfluxClient) -> Table:
        return analysis(await alert_rows(client, start), start, end)

    run(work, _format(ctx, fmt), f"{title} {_describe(start, end)}", caption)
