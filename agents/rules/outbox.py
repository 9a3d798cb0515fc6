"""Messages to the patient that no alert message carries (check-in prompts and reminders, readiness
answers): rules put them in the patient state's outbox and the patient channel sends them."""

from __future__ import annotations

from models.patient_messages import PatientMessage
from models.state import PatientState

OUTBOX_LIMIT = 32
"""The outbox keeps this many messages at most (for an evaluation path that never sends them)."""


def post(state: PatientState, message: PatientMessage) -> None:
    """Put a message for the patient in the outbox."""
    state.outbox = [*state.outbox[-(OUTBOX_LIMIT - 1) :], message]


def take(state: PatientState) -> list[PatientMessage]:
    """Empty the outbox: its messages, oldest first."""
    messages = state.outbox
    if not messages:  # (on almost every event: no assignment; the caller may extend what it gets)
        return []
    state.outbox = []
    return messages
