from datetime import UTC, datetime, timedelta

from agents.due_index import DueIndex

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_only_patients_due_by_now_are_returned_once() -> None:
    index = DueIndex()
    index.update("a", T0)
    index.update("b", T0 + timedelta(minutes=5))
    assert index.pop_due(T0) == ["a"]
    assert index.pop_due(T0) == []
    assert index.pop_due(T0 + timedelta(minutes=5)) == ["b"]


def test_a_later_update_supersedes_the_earlier_due_time() -> None:
    index = DueIndex()
    index.update("a", T0)
    index.update("a", T0 + timedelta(minutes=10))
    assert index.pop_due(T0 + timedelta(minutes=1)) == []
    index.update("a", None)
    assert index.pop_due(T0 + timedelta(hours=1)) == []
    assert "a" not in index


def test_heap_stays_bounded_under_many_updates() -> None:
    index = DueIndex()
    for i in range(10_000):
        index.update("a", T0 + timedelta(seconds=i))
    assert len(index._heap) < 200
    assert index.pop_due(T0 + timedelta(days=1)) == ["a"]
