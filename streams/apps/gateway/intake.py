"""What the gateway makes of one request body: the events to produce, or the problem to answer (pure).

A body is one contract event or a JSON array of them (a device that buffered while offline uploads
its backlog in order). The whole batch is taken or refused: a refusal names every bad item by its
JSON pointer and the contract's reason, never a value. The patient comes from the credential: an
event may leave `patient_id` out, and one naming another patient is refused (403). Every event needs
an `event_id` (a resend is recognised by it), and one timed more than the skew ahead of its receipt
is refused; late ones are taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models.credentials import Credential
from models.events import Event
from models.parsing import InvalidMessage, parse_event, time_problem

SESSION_FILLED = frozenset({"vitals", "symptom", "checkin", "message_seen"})
"""Event types whose missing session is the patient's latest (a readiness check belongs to the next one)."""
NO_SESSION = "required: the gateway knows no infusion of this patient to take it from"
PROBLEM_BASE = "https://ivigwatch.example/problems/"
"""RFC 9457 problem types: this base and a short name (documented in docs/contract.md)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """An RFC 9457 problem: `status`, a `type` name, a `title`, and the bad fields of each item."""

    status: int
    type: str
    title: str
    errors: tuple[dict[str, str], ...] = ()

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": PROBLEM_BASE + self.type, "title": self.title, "status": self.status}
        if self.errors:
            out["errors"] = list(self.errors)
        return out


@dataclass(frozen=True, slots=True)
class Accepted:
    """The events of a body, each with its message bytes (its `patient_id` filled in)."""

    events: tuple[tuple[Event, bytes], ...] = field(default_factory=tuple)


def intake(
    body: bytes,
    credential: Credential,
    received: datetime,
    max_skew: timedelta | None,
    max_batch: int,
    session: str | None = None,
) -> Accepted | Problem:
    """The events of one request body, or the problem that refuses all of it. `session`: the
    patient's most recent infusion session, for readings and symptoms that do not name one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return Problem(400, "malformed", "The body is not JSON")
    items = data if isinstance(data, list) else [data]
    return intake_items(
        items, credential, received, max_skew, max_batch, session, batched=isinstance(data, list)
    )


def intake_items(
    items: list[Any],
    credential: Credential,
    received: datetime,
    max_skew: timedelta | None,
    max_batch: int,
    session: str | None = None,
    *,
    batched: bool = True,
) -> Accepted | Problem:
    """As `intake`, for items already read (`batched`: pointers name each item's index)."""
    prefix = "/" if batched else ""
    if not items:
        return Problem(422, "empty-batch", "The batch holds no event")
    if len(items) > max_batch:
        return Problem(413, "batch-too-large", f"At most {max_batch} events per request")
    errors: list[dict[str, str]] = []
    forbidden: list[dict[str, str]] = []
    events: list[tuple[Event, bytes]] = []
    for index, item in enumerate(items):
        pointer = f"{prefix}{index}" if prefix else ""
        if not isinstance(item, dict):
            errors.append({"pointer": pointer or "/", "detail": "an event must be a JSON object"})
            continue
        named = item.get("patient_id", credential.patient_id)
        if named != credential.patient_id:
            forbidden.append(
                {"pointer": f"{pointer}/patient_id", "detail": "another patient than the credential's"}
            )
            continue
        if not credential.allows(str(item.get("type"))):
            forbidden.append(
                {
                    "pointer": f"{pointer}/type",
                    "detail": f"not allowed for a {credential.kind.value} credential",
                }
            )
            continue
        if not item.get("event_id"):
            errors.append(
                {"pointer": f"{pointer}/event_id", "detail": "required: a resend is recognised by it"}
            )
            continue
        if item.get("type") in SESSION_FILLED and not item.get("session_id"):
            if session is None:
                errors.append({"pointer": f"{pointer}/session_id", "detail": NO_SESSION})
                continue
            item = {**item, "session_id": session}
        raw = json.dumps({**item, "patient_id": credential.patient_id}, separators=(",", ":")).encode()
        try:
            event = parse_event(raw)
        except InvalidMessage as exc:
            errors.extend({"pointer": pointer or "/", "detail": reason} for reason in exc.errors)
            continue
        if max_skew is not None:  # None: a simulated clock (an accelerated demo), no arrival bound
            ahead = time_problem(event.ts, received, max_skew)
            errors.extend({"pointer": f"{pointer}/ts", "detail": r} for r in ahead)
        events.append((event, raw))
    if forbidden:
        return Problem(
            403, "forbidden-event", "The credential may not send some of these events", tuple(forbidden)
        )
    if errors:
        return Problem(422, "invalid-event", "Some events break the contract", tuple(errors))
    return Accepted(tuple(events))
