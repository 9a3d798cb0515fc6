"""The patient's recent event ids, to drop a resent event: 64-bit digests, the newest
SEEN_EVENT_IDS of them in the state (a digest costs a tenth of an id's memory and half its JSON), and
a set beside them in memory for the lookup."""

from __future__ import annotations

from models.state import PatientState, event_id_digest, memory_of

SEEN_EVENT_IDS = 512


def _lookup(state: PatientState) -> set[int]:
    memory = memory_of(state)
    seen: set[int] | None = memory["_seen"]
    if seen is None:
        seen = memory["_seen"] = set(state.seen_event_ids)
    return seen


def first_time(state: PatientState, event_id: str) -> bool:
    """Whether the id is new (then it is remembered); False for a resend."""
    key = event_id_digest(event_id)
    seen = _lookup(state)
    if key in seen:
        return False
    ids = state.seen_event_ids
    ids.append(key)
    seen.add(key)
    if len(ids) > SEEN_EVENT_IDS:
        seen.discard(ids.pop(0))
    return True


def seen(state: PatientState, event_id: str) -> bool:
    return event_id_digest(event_id) in _lookup(state)
