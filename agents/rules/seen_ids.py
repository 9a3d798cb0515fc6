"""The patient's recent event ids, to drop a resent event: the newest SEEN_EVENT_IDS of them in the
state, as 8-byte digests packed in one bytearray (models/event_id_column.py: 4 KB for all of them,
where a list and a set of Python ints took ~50 KB), looked up with a byte search."""

from __future__ import annotations

from models.event_id_column import DIGEST_BYTES, contains, digest
from models.state import PatientState

SEEN_EVENT_IDS = 512


def first_time(state: PatientState, event_id: str) -> bool:
    """Whether the id is new (then it is remembered); False for a resend."""
    key = digest(event_id)
    ids = state.seen_event_ids
    if contains(ids, key):
        return False
    ids += key
    if len(ids) > SEEN_EVENT_IDS * DIGEST_BYTES:
        del ids[:DIGEST_BYTES]
    return True


def seen(state: PatientState, event_id: str) -> bool:
    return contains(state.seen_event_ids, digest(event_id))
