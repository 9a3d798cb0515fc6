"""Resent events are dropped by their id's digest: the newest SEEN_EVENT_IDS ids, as before the
digests, across reloads and from a state stored with the ids themselves."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agents.rules.seen_ids import SEEN_EVENT_IDS, first_time, seen
from models.event_id_column import as_int, contains, digest, integers
from models.state import PatientState


def event_id_digest(event_id: str) -> int:
    """How a stored state writes an id: its digest read as a signed 64-bit integer."""
    return as_int(digest(event_id))


def test_a_resend_is_seen_until_newer_ids_push_it_out() -> None:
    state = PatientState(patient_id="pt-1")
    assert first_time(state, "e-0")
    assert not first_time(state, "e-0")
    for n in range(1, SEEN_EVENT_IDS):
        assert first_time(state, f"e-{n}")
    assert seen(state, "e-0")
    assert first_time(state, f"e-{SEEN_EVENT_IDS}")  # the 513th pushes out the first
    assert not seen(state, "e-0")
    assert len(integers(state.seen_event_ids)) == SEEN_EVENT_IDS
    assert first_time(state, "e-0")


def test_ids_survive_a_reload_as_the_integers_stored_before() -> None:
    state = PatientState(patient_id="pt-1")
    for n in range(40):
        first_time(state, f"e-{n}")
    stored = state.model_dump_json()
    assert json.loads(stored)["seen_event_ids"] == [event_id_digest(f"e-{n}") for n in range(40)]
    again = PatientState.model_validate_json(stored)
    assert again.seen_event_ids == state.seen_event_ids
    assert not first_time(again, "e-7")
    assert first_time(again, "e-40")


def test_a_state_stored_with_the_ids_themselves_reads_them_as_digests() -> None:
    stored = PatientState(patient_id="pt-1").model_dump(mode="json")
    stored["seen_event_ids"] = ["e-1", "e-2"]
    state = PatientState.model_validate(stored)
    assert integers(state.seen_event_ids) == [event_id_digest("e-1"), event_id_digest("e-2")]
    assert not first_time(state, "e-2")


def test_digests_are_stable_64_bit_integers() -> None:
    assert event_id_digest("pt-1-e1") == -7936734611671118735  # pinned: stored states hold it
    values = {event_id_digest(f"pt-{n}-e{m}") for n in range(50) for m in range(50)}
    assert len(values) == 2500
    assert all(-(2**63) <= v < 2**63 for v in values)


def test_a_match_off_a_digest_boundary_is_no_match() -> None:
    state = PatientState(patient_id="pt-1")
    first_time(state, "e-1")
    first_time(state, "e-2")
    key = bytes(state.seen_event_ids[4:12])  # the end of one digest and the start of the next
    assert not contains(state.seen_event_ids, key)
    assert contains(state.seen_event_ids, bytes(state.seen_event_ids[8:16]))


@pytest.mark.parametrize("ids", [[1.5], [2**63], "e-1", [None]])
def test_damaged_stored_ids_are_refused(ids: object) -> None:
    stored = PatientState(patient_id="pt-1").model_dump(mode="json")
    stored["seen_event_ids"] = ids
    with pytest.raises(ValidationError):
        PatientState.model_validate(stored)


def test_a_copy_through_a_python_dump_has_ids_of_its_own() -> None:
    state = PatientState(patient_id="pt-1")
    first_time(state, "e-1")
    copy = PatientState.model_validate(state.model_dump())
    assert copy.seen_event_ids == state.seen_event_ids and copy.seen_event_ids is not state.seen_event_ids
    first_time(copy, "e-2")
    assert seen(copy, "e-2") and not seen(state, "e-2")
