"""Credentials of home devices and patient apps at the gateway: bound to one patient, scoped by kind."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from models.events import EventTime, Pseudonym

CredentialId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]


class CredentialKind(StrEnum):
    DEVICE = "device"
    """A connected cuff, oximeter or thermometer: vitals."""
    PUMP = "pump"
    """An infusion pump: infusion events."""
    APP = "app"
    """The patient's app: vitals entered by hand, symptom reports, check-in and readiness answers."""


SCOPES: dict[CredentialKind, frozenset[str]] = {
    CredentialKind.DEVICE: frozenset({"vitals"}),
    CredentialKind.PUMP: frozenset({"infusion"}),
    CredentialKind.APP: frozenset({"vitals", "symptom", "checkin", "readiness", "message_seen"}),
}
"""The event types each kind may send; profiles come only from care-team tools, never the gateway."""


class Credential(BaseModel):
    """One issued credential; only a hash of its secret is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credential_id: CredentialId
    patient_id: Pseudonym
    kind: CredentialKind
    label: Annotated[str, StringConstraints(max_length=80)] = ""
    secret_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    issued_at: EventTime
    revoked_at: datetime | None = None

    def allows(self, event_type: str) -> bool:
        return event_type in SCOPES[self.kind]
