"""Records on `ivig.deadletter.v1`: the raw message, where it came from, and why it was refused."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class SourcePosition(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class DeadLetter(BaseModel):
    """Why a message was refused (`errors`: field and rule, no values) plus the message itself."""

    model_config = ConfigDict(frozen=True)

    errors: list[str]
    stage: str
    source: SourcePosition
    raw_base64: str
    rejected_at: datetime

    @classmethod
    def of(
        cls, raw: bytes, errors: list[str], stage: str, source: SourcePosition, at: datetime
    ) -> DeadLetter:
        return cls(
            errors=errors,
            stage=stage,
            source=source,
            raw_base64=base64.b64encode(raw).decode("ascii"),
            rejected_at=at,
        )

    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)
