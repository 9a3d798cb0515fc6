"""`ivigwatch export fhir SESSION [--out FILE]`: one stored session as a FHIR R4 Bundle."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import typer

from streams.apps.cli.unreachable import influx_unreachable
from streams.apps.fhir_export import FhirExportError, bundle_json, observation_count
from streams.apps.sessions import SessionNotFound, SessionRecord, load_session
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable

app = typer.Typer(help="Export stored sessions for analysts.", no_args_is_help=True)


@app.command("fhir")
def fhir_command(
    session: str = typer.Argument(..., help="Session id, as stored in InfluxDB"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the bundle here (default: stdout)"),  # noqa: B008
) -> None:
    """Write a session's vital signs as a FHIR R4 Bundle (collection) of vital-signs Observations."""
    settings = get_settings()
    try:
        record = asyncio.run(_load(settings, session))
    except ValueError as exc:  # not a pseudonymous id: it never reaches InfluxQL
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except SessionNotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except InfluxUnavailable as exc:
        typer.echo(influx_unreachable(exc), err=True)
        raise typer.Exit(1) from None
    except RuntimeError as exc:  # an InfluxQL error answer, e.g. the database does not exist
        typer.echo(f"InfluxDB {settings.influx_db}: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        text = bundle_json(record)
    except FhirExportError as exc:
        typer.echo(f"{exc}; nothing written", err=True)
        raise typer.Exit(1) from None
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            _write_atomically(out, text)
        except OSError as exc:
            typer.echo(f"{out}: cannot write ({exc.strerror})", err=True)
            raise typer.Exit(1) from None
    typer.echo(
        f"session {session}: {observation_count(record)} Observations from {len(record.vitals)} "
        f"readings{f' written to {out}' if out else ''}",
        err=True,
    )


async def _load(settings: Settings, session_id: str) -> SessionRecord:
    async with InfluxClient(settings, role="reader") as client:
        return await load_session(client, session_id)


def _write_atomically(path: Path, text: str) -> None:
    """A reader sees the old file or the whole new one, never a half-written bundle."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
