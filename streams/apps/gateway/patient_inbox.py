"""What the patient's app reads: each patient's recent messages of `ivig.patient.v1`, numbered in
the order the gateway received them, and a wait for the next one (the app's long poll)."""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field

from models.patient_messages import PatientMessage

KEPT_PER_PATIENT = 100


@dataclass(slots=True)
class _Box:
    messages: deque[tuple[int, PatientMessage]] = field(
        default_factory=lambda: deque(maxlen=KEPT_PER_PATIENT)
    )
    ids: set[str] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class PatientInbox:
    """Per patient, the last `KEPT_PER_PATIENT` messages; a repeat (same `message_id`: a replay or a
    redelivery) is dropped. Sequence numbers rise across all patients, so the app's cursor stays
    valid when messages of others arrive in between."""

    def __init__(self) -> None:
        self.boxes: dict[str, _Box] = {}
        self.seq = 0
        self.epoch = secrets.token_hex(4)
        """Names this inbox's numbering: a cursor of another epoch (before a restart) starts over."""

    def add(self, message: PatientMessage) -> bool:
        """Keep a message; False for a repeat."""
        box = self.boxes.setdefault(message.patient_id, _Box())
        if message.message_id in box.ids:
            return False
        if len(box.messages) == box.messages.maxlen:
            box.ids.discard(box.messages[0][1].message_id)
        self.seq += 1
        box.messages.append((self.seq, message))
        box.ids.add(message.message_id)
        box.arrived.set()
        box.arrived = asyncio.Event()  # waiters hold the old one, which stays set
        return True

    def after(self, patient_id: str, cursor: int) -> list[tuple[int, PatientMessage]]:
        """The patient's messages numbered after `cursor`, oldest first."""
        box = self.boxes.get(patient_id)
        return [] if box is None else [(n, m) for n, m in box.messages if n > cursor]

    async def wait(self, patient_id: str, cursor: int, seconds: float) -> list[tuple[int, PatientMessage]]:
        """The messages after `cursor`, waiting up to `seconds` for one when there is none."""
        found = self.after(patient_id, cursor)
        if found or seconds <= 0:
            return found
        arrived = self.boxes.setdefault(patient_id, _Box()).arrived
        try:
            async with asyncio.timeout(seconds):
                await arrived.wait()
        except TimeoutError:
            return []
        return self.after(patient_id, cursor)
