"""`ivigwatch ack|resolve|note|handover ALERT_ID`: a nurse's action on an alert, sent to `ivig.actions.v1`.

The action is keyed by the alert's patient_id, which the alert id does not carry: it is looked up on
`ivig.alerts.v1` unless `--patient` gives it. The rules worker answers an ack or a resolve with the
alert's `acknowledged` / `resolved` message (`ivigwatch alerts` shows it); a note is recorded only.
"""

from __future__ import annotations

import asyncio
import logging

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError

from agents.rules.incidents import is_incident_id
from models.alerts import Alert, AlertStatus
from models.errors import safe_errors
from models.events import Outcome
from streams.apps.cli.unreachable import kafka_unreachable
from streams.infra.kafka.nurse_actions import (
    ActionType,
    AlertNotFound,
    SentAction,
    find_alert,
    new_action,
    send_action,
)
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC
from streams.infra.settings import Settings, get_settings

ALERT_ID = typer.Argument(..., help="The alert's id, as `ivigwatch alerts` shows it: SESSION:CONDITION:N")
BY = typer.Option(None, "--by", help="Who acts (default: IVIGWATCH_NURSE_ID)")
PATIENT = typer.Option(
    None, "--patient", help=f"The alert's patient_id (skips looking it up on {ALERTS_TOPIC})"
)
TIMEOUT = typer.Option(10.0, "--timeout", help=f"Seconds to look for the alert on {ALERTS_TOPIC}")

ANSWER = {
    "ack": "the rules worker answers with the alert's `acknowledged` message (escalation stops)",
    "resolve": "the rules worker answers with the alert's `resolved` message",
    "note": "the note is recorded with the alert (no alert message follows)",
    "handover": "the rules worker answers with the incident's message naming its new owner",
}
OUTCOMES = ", ".join(o.value for o in Outcome)
OUTCOME = typer.Option(
    None, "--outcome", help=f"What it turned out to be ({OUTCOMES}); required for an incident"
)
ACTION_TAKEN = typer.Option(
    None, "--action-taken", help="What was done (free text); required for an incident"
)


def ack_command(
    alert_id: str = ALERT_ID,
    note: str | None = typer.Option(None, "--note", help="What you did or saw"),
    by: str | None = BY,
    patient: str | None = PATIENT,
    timeout: float = TIMEOUT,
) -> None:
    """Acknowledge an alert: you are on it (stops its escalation)."""
    _act("ack", alert_id, note, by, patient, timeout)


def resolve_command(
    alert_id: str = ALERT_ID,
    note: str = typer.Option(..., "--note", help="Why it is resolved (required)"),
    outcome: Outcome | None = OUTCOME,
    action_taken: str | None = ACTION_TAKEN,
    by: str | None = BY,
    patient: str | None = PATIENT,
    timeout: float = TIMEOUT,
) -> None:
    """Resolve an alert or incident, with a note saying why (and, for an incident, its outcome)."""
    if is_incident_id(alert_id) and (outcome is None or not (action_taken or "").strip()):
        raise _fail(
            f"resolving an incident needs --outcome ({OUTCOMES}) and --action-taken saying what was done", 2
        )
    more = {"outcome": outcome.value if outcome else None, "action_taken": (action_taken or "").strip()}
    _act("resolve", alert_id, note, by, patient, timeout, more)


def handover_command(
    alert_id: str = typer.Argument(..., help="The incident's id (or one of its alerts'): PATIENT:incident:N"),
    to: str = typer.Option(..., "--to", help="The nurse taking it over (their console login name)"),
    note: str = typer.Option(..., "--note", help="The handoff: what is going on, what is left to do"),
    by: str | None = BY,
    patient: str | None = PATIENT,
    timeout: float = TIMEOUT,
) -> None:
    """Hand an acknowledged incident over to another nurse: they own it (and get its reminders)."""
    _act("handover", alert_id, note, by, patient, timeout, {"to": to})


def note_command(
    alert_id: str = ALERT_ID,
    text: str = typer.Argument(..., help="The note"),
    by: str | None = BY,
    patient: str | None = PATIENT,
    timeout: float = TIMEOUT,
) -> None:
    """Add a note to an alert without changing its status."""
    _act("note", alert_id, text, by, patient, timeout)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _act(
    kind: ActionType,
    alert_id: str,
    note: str | None,
    by: str | None,
    patient: str | None,
    timeout: float,
    more: dict[str, str | None] | None = None,
) -> None:
    settings = get_settings()
    who = by or settings.nurse_id
    if not who:
        raise _fail(f"who is acting? pass --by NAME or set IVIGWATCH_NURSE_ID (the `by` of the {kind})", 2)
    if kind in ("resolve", "handover") and not (note or "").strip():
        raise _fail(f"a {kind} needs --note saying why", 2)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its errors are reported below, once
    try:
        sent, alert = asyncio.run(
            _lookup_and_send(settings, kind, alert_id, note, who, patient, timeout, more or {})
        )
    except AlertNotFound as exc:
        hint = "; pass --patient if it is older" if exc.gave_up_after is not None else ""
        raise _fail(f"{exc}{hint}", 1) from None
    except ValidationError as exc:
        raise _fail(f"not a valid nurse action: {'; '.join(safe_errors(exc))}", 2) from None
    except KafkaConnectionError:
        raise _fail(
            kafka_unreachable(settings.bootstrap),
            1,
        ) from None
    except KafkaError as exc:
        raise _fail(
            f"Kafka at {settings.bootstrap} failed ({type(exc).__name__}): the {kind} may not have been "
            "sent; check with `ivigwatch alerts --from-beginning` before trying again",
            1,
        ) from None
    if alert is not None and alert.status is AlertStatus.RESOLVED and kind != "note":
        typer.echo(f"note: {alert_id} is already resolved; the rules worker will not change it", err=True)
    typer.echo(sent.action.model_dump_json(exclude_none=True))
    typer.echo(
        f"{kind} of {alert_id} (patient {sent.action.patient_id}) by {who} sent to {ACTIONS_TOPIC} "
        f"[partition {sent.partition}, offset {sent.offset}]: {ANSWER[kind]}",
        err=True,
    )


async def _lookup_and_send(
    settings: Settings,
    kind: ActionType,
    alert_id: str,
    note: str | None,
    by: str,
    patient: str | None,
    seconds: float,
    more: dict[str, str | None],
) -> tuple[SentAction, Alert | None]:
    alert = None
    if patient is None:
        alert = await find_alert(settings, alert_id, seconds)
        patient = alert.patient_id
    action = new_action(kind, alert_id, patient, by, note, more=more)
    return await send_action(settings, action, seconds), alert
