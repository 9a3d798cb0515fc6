"""Records on `ivig.deadletter.v1`: the raw message, where it came from, and why it was refused.

A record must itself fit in a Kafka message (the broker's default limit is about 1 MB), whatever
was refused: the raw message is kept whole up to `RAW_KEEP_BYTES` and cut there beyond, with its
full size and SHA-256 so the original can still be found (by `source` topic, partition, offset)
and recognised. At most `MAX_ERRORS` reasons of at most `MAX_ERROR_CHARS` characters are kept.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict

RAW_KEEP_BYTES = 256 * 1024
"""Raw bytes kept in a record (base64 makes ~342 KiB of it): every message the validators read
(64 KiB at most) is kept whole, and a record stays far below the broker's message size limit."""
MAX_ERRORS = 20
MAX_ERROR_CHARS = 300


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
    raw_size: int | None = None
    """Size of the original message in bytes (None in records written before it was added)."""
    raw_sha256: str | None = None
    """Hex SHA-256 of the whole original message."""
    raw_truncated: bool = False
    """True when `raw_base64` holds only the first `RAW_KEEP_BYTES` bytes of the message."""

    @classmethod
    def of(
        cls, raw: bytes, errors: list[str], stage: str, source: SourcePosition, at: datetime
    ) -> DeadLetter:
        kept = raw[:RAW_KEEP_BYTES]
        return cls(
            errors=bounded_errors(errors),
            stage=stage,
            source=source,
            raw_base64=base64.b64encode(kept).decode("ascii"),
            rejected_at=at,
            raw_size=len(raw),
            raw_sha256=hashlib.sha256(raw).hexdigest(),
            raw_truncated=len(kept) < len(raw),
        )

    def raw(self) -> bytes:
        """The raw message, or its first `RAW_KEEP_BYTES` bytes when `raw_truncated`."""
        return base64.b64decode(self.raw_base64)


def bounded_errors(errors: list[str]) -> list[str]:
    """The first `MAX_ERRORS` reasons, each cut to `MAX_ERROR_CHARS`, and how many were left out."""
    kept = [e if len(e) <= MAX_ERROR_CHARS else e[: MAX_ERROR_CHARS - 3] + "..." for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        kept.append(f"(message): {len(errors) - MAX_ERRORS} more errors left out [too_many_errors]")
    return kept or ["(message): refused without a reason [unknown]"]
