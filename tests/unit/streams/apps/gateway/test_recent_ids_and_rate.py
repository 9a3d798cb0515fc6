"""The gateway's memory of produced event ids, and its per-credential request rate."""

from __future__ import annotations

import pytest

from streams.apps.gateway.recent_ids import RecentIds
from streams.apps.gateway.request_rate import RequestRate


def test_ids_are_remembered_per_patient_for_the_set_time_and_bounded() -> None:
    recent = RecentIds(keep_seconds=60, limit=3)
    recent.add("pt-1", "e1", now=0)
    assert recent.seen("pt-1", "e1", now=59) and not recent.seen("pt-2", "e1", now=59)
    assert not recent.seen("pt-1", "e1", now=61)
    for n in range(4):
        recent.add("pt-1", f"x{n}", now=100)
    assert not recent.seen("pt-1", "x0", now=100) and recent.seen("pt-1", "x3", now=100)


def test_a_credential_gets_its_burst_then_the_sustained_rate_and_others_are_not_slowed() -> None:
    rate = RequestRate(per_second=2.0, burst=3)
    assert [rate.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.take("a", 0.0) == pytest.approx(0.5)
    assert rate.take("b", 0.0) == 0.0
    assert rate.take("a", 0.5) == 0.0  # one token back after half a second
