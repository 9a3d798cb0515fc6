"""`ivigwatch replay FILE.jsonl [--until TS] [--rules FILE]` (contract: Replay)."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

import typer
from pydantic import TypeAdapter, ValidationError

from agents.rules.loader import RuleFileError, load_rules
from models.alerts import Alert
from models.events import EventTime
from models.patient_messages import PatientMessage
from streams.apps.replay import LineError, replay
from streams.infra.kafka.topics import ALERTS_TOPIC, PATIENT_TOPIC
from streams.infra.settings import get_settings

_TIME = TypeAdapter[datetime](EventTime)


def replay_command(
    file: Path = typer.Argument(..., help="JSONL of events and nurse actions, one per line"),  # noqa: B008
    until: str | None = typer.Option(None, help="Move the clock on to this time after the last line"),
    rules: Path | None = typer.Option(  # noqa: B008
        None, "--rules", help="Replay under this rule file instead of the active one"
    ),
    patient_messages: bool = typer.Option(
        False,
        "--patient-messages",
        help="Also print the messages to the patient; every line is then "
        '{"topic": ..., "key": patient_id, "value": message}',
    ),
) -> None:
    """Replay recorded events through the rules; print every alert message as one JSON line."""
    try:
        ruleset = load_rules(rules if rules is not None else get_settings().rules_file)
    except RuleFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    until_ts = None
    if until is not None:
        try:
            until_ts = _TIME.validate_python(until)
        except ValidationError:
            typer.echo("--until: not an RFC 3339 time with an offset", err=True)
            raise typer.Exit(2) from None
    try:
        handle = sys.stdin if str(file) == "-" else file.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        typer.echo(f"{file}: cannot read ({exc.strerror})", err=True)
        raise typer.Exit(1) from None
    with handle:
        skew = timedelta(minutes=get_settings().max_clock_skew_minutes)
        lines = replay(handle, ruleset, until=until_ts, max_skew=skew, patient_messages=patient_messages)
        for item in lines:
            if isinstance(item, LineError):
                typer.echo(f"line {item.line_no}: {item.reason}", err=True)
            elif patient_messages:
                sys.stdout.write(tagged(item) + "\n")
            else:
                sys.stdout.write(item.model_dump_json() + "\n")


def tagged(message: Alert | PatientMessage) -> str:
    """One message with its topic and key, as a consumer of both topics sees it."""
    topic = PATIENT_TOPIC if isinstance(message, PatientMessage) else ALERTS_TOPIC
    value = message.model_dump(mode="json")
    return json.dumps({"topic": topic, "key": message.patient_id, "value": value}, separators=(",", ":"))
