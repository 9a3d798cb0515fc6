"""A patient's recent event ids as 8-byte BLAKE2b digests packed in one bytearray (8 bytes each in
memory, against ~100 for a Python int in a list and a set), stored in JSON as the signed 64-bit
integers they read as (big-endian)."""

from __future__ import annotations

from hashlib import blake2b
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator

DIGEST_BYTES = 8


def digest(event_id: str) -> bytes:
    return blake2b(event_id.encode(), digest_size=DIGEST_BYTES).digest()


def as_int(key: bytes | bytearray) -> int:
    return int.from_bytes(key, "big", signed=True)


def contains(column: bytearray, key: bytes) -> bool:
    """Whether `key` is one of the column's digests (a match must start on a digest's boundary)."""
    at = column.find(key)
    while at != -1:
        if at % DIGEST_BYTES == 0:
            return True
        at = column.find(key, at + 1)
    return False


def integers(column: bytearray) -> list[int]:
    return [as_int(column[at : at + DIGEST_BYTES]) for at in range(0, len(column), DIGEST_BYTES)]


def _read(data: Any) -> bytearray:
    """From the stored integers (or, in a state stored when it kept them, the ids themselves)."""
    if isinstance(data, bytearray):  # a Python dump's: copied, as a list was (no state shares it)
        return bytearray(data)
    fits = isinstance(data, list) and all(
        isinstance(v, str) or (type(v) is int and -(2**63) <= v < 2**63) for v in data
    )
    if not fits:
        raise ValueError("event ids must be a list of 64-bit integers")
    column = bytearray()
    for value in data:
        column += (
            digest(value) if isinstance(value, str) else value.to_bytes(DIGEST_BYTES, "big", signed=True)
        )
    return column


EventIdColumn = Annotated[bytearray, PlainValidator(_read), PlainSerializer(integers, when_used="json")]
