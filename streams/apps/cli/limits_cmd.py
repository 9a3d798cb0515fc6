"""`ivigwatch limit|snooze PATIENT ...`: a nurse's per-patient limit or snooze (contract v2), checked
against the active rule file before it is sent to `ivig.actions.v1`; `--clear` ends the one in force."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError

from agents.rules.loader import RuleFileError, load_rules
from agents.rules.patient_limits import problems
from models.errors import safe_errors
from models.events import NurseAction
from streams.apps.cli.unreachable import kafka_unreachable
from streams.infra.kafka.nurse_actions import send_action
from streams.infra.kafka.topics import ACTIONS_TOPIC
from streams.infra.settings import get_settings

PATIENT = typer.Argument(..., help="The patient's pseudonymous id")
HOURS = typer.Option(None, "--hours", help="Expires this many hours from now (required unless --clear)")
REASON = typer.Option(None, "--reason", help="Why (required unless --clear)")
CLEAR = typer.Option(False, "--clear", help="End the one in force now")
BY = typer.Option(None, "--by", help="Who sets it (default: IVIGWATCH_NURSE_ID)")


def limit_command(
    patient: str = PATIENT,
    vital: str = typer.Argument(..., help="spo2, systolic_bp, diastolic_bp, heart_rate, respiratory_rate"),
    side: str = typer.Argument(..., help="low (pages only below VALUE) or high (only above it)"),
    value: float | None = typer.Argument(
        None, help="The patient's own limit (within the rule file's bounds)"
    ),
    hours: float | None = HOURS,
    reason: str | None = REASON,
    clear: bool = CLEAR,
    by: str | None = BY,
) -> None:
    """Set a patient's own alarm limit for one side of a vital (warning and urgent rows only)."""
    _send("limit", patient, {"vital": vital, "side": side, "value": value}, hours, reason, clear, by)


def snooze_command(
    patient: str = PATIENT,
    condition: str = typer.Argument(..., help="The condition, e.g. tachycardia"),
    rule: str | None = typer.Option(None, "--rule", help="Only this row of the condition"),
    hours: float | None = HOURS,
    reason: str | None = REASON,
    clear: bool = CLEAR,
    by: str | None = BY,
) -> None:
    """Snooze a condition's warning and urgent single-vital rows for one patient."""
    _send("snooze", patient, {"condition": condition, "rule": rule}, hours, reason, clear, by)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _send(
    kind: str,
    patient: str,
    fields: dict[str, Any],
    hours: float | None,
    reason: str | None,
    clear: bool,
    by: str | None,
) -> None:
    settings = get_settings()
    who = by or settings.nurse_id
    if not who:
        raise _fail(f"who sets it? pass --by NAME or set IVIGWATCH_NURSE_ID (the `by` of the {kind})", 2)
    now = datetime.now(UTC)
    setting = {k: v for k, v in fields.items() if v is not None}
    if clear:
        setting["clear"] = True
    else:
        setting["reason"] = reason
        setting["until"] = None if hours is None else now + timedelta(hours=hours)
    try:
        rules = load_rules(settings.rules_file)
        action = NurseAction.model_validate(
            {"type": kind, "patient_id": patient, "by": who, "ts": now, kind: setting}
        )
    except RuleFileError as exc:
        raise _fail(str(exc), 2) from None
    except ValidationError as exc:
        raise _fail(f"not a valid {kind}: {'; '.join(safe_errors(exc))}", 2) from None
    if errors := problems(action, rules):
        raise _fail(f"refused: {'; '.join(errors)}", 2)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        sent = asyncio.run(send_action(settings, action))
    except KafkaConnectionError:
        raise _fail(kafka_unreachable(settings.bootstrap), 1) from None
    except KafkaError as exc:
        raise _fail(
            f"Kafka at {settings.bootstrap} failed ({type(exc).__name__}): it may not be sent", 1
        ) from None
    typer.echo(sent.action.model_dump_json(exclude_none=True))
    typer.echo(
        f"{kind} {action.alert_id} by {who} sent to {ACTIONS_TOPIC} [partition {sent.partition}, offset "
        f"{sent.offset}]: the rules worker applies it to the patient's readings timed from now",
        err=True,
    )
