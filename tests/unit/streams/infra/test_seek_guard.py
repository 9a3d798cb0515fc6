"""The seek guard: after a seek, records fetched before it are dropped and the partition sought again
(pure). Seen live: a rules worker frozen past its session rejoined, was sought to offset 10 of a
partition and was then handed records 13-76 from its old fetch; Faust skipped 10-12 as a gap and
dropped the re-fetched 10-76 as read, so three events never reached the rules."""

from __future__ import annotations

from streams.infra.kafka.seek_guard import Admit, SeekGuard

TP0, TP1 = ("ivig.events.v1", 0), ("ivig.events.v1", 1)


def test_records_fetched_before_the_seek_are_dropped_and_the_partition_sought_again() -> None:
    guard = SeekGuard()
    guard.sought({TP0: 10, TP1: 5})
    stale: set[object] = set()
    assert guard.admit(TP0, 13, stale) is Admit.RESEEK
    assert guard.target(TP0) == 10
    assert [guard.admit(TP0, n, stale) for n in (14, 15)] == [Admit.DROP, Admit.DROP]  # same fetch
    assert guard.admit(TP1, 5, stale) is Admit.KEEP  # another partition of the fetch is right
    refetch: set[object] = set()
    assert [guard.admit(TP0, n, refetch) for n in (10, 11, 12, 13)] == [Admit.KEEP] * 4
    assert guard.target(TP0) is None


def test_a_partition_whose_log_starts_past_the_seek_is_taken_after_one_retry() -> None:
    guard = SeekGuard()
    guard.sought({TP0: 10})
    assert guard.admit(TP0, 40, set()) is Admit.RESEEK
    assert guard.admit(TP0, 40, set()) is Admit.KEEP  # re-fetched from 10 and still at 40
    assert guard.admit(TP0, 41, set()) is Admit.KEEP


def test_without_a_committed_offset_any_first_record_is_right() -> None:
    guard = SeekGuard()
    guard.sought({TP0: None, TP1: -1})
    assert guard.admit(TP0, 7, set()) is Admit.KEEP
    assert guard.admit(TP1, 3, set()) is Admit.KEEP


def test_records_below_the_seek_are_left_to_faust_and_a_new_seek_resets_the_retry() -> None:
    guard = SeekGuard()
    guard.sought({TP0: 10})
    assert guard.admit(TP0, 8, set()) is Admit.KEEP  # Faust drops it as already read
    assert guard.admit(TP0, 12, set()) is Admit.RESEEK
    guard.sought({TP0: 10})  # a rebalance sought again: a fresh first try
    assert guard.admit(TP0, 12, set()) is Admit.RESEEK


def test_an_assigned_partition_hands_out_nothing_until_it_is_sought() -> None:
    """Seen live: after a frozen worker rejoined, Kafka fetched a partition from its committed offset
    13 before Faust sought it, and Faust dropped 13-16 as read: its fetcher had noted 22, the record
    it was handing out when the partition was revoked. A record it had not processed would have been
    skipped the same way, the rules getting the next one first."""
    guard = SeekGuard()
    guard.assigned([TP0, TP1])
    stale: set[object] = set()
    assert [guard.admit(TP0, n, stale) for n in (27, 28)] == [Admit.DROP, Admit.DROP]
    guard.sought({TP0: 27, TP1: 5})
    assert guard.resumed() == {TP0: 27}  # TP0 dropped records: sought again
    assert [guard.admit(TP0, n, set()) for n in (27, 28)] == [Admit.KEEP, Admit.KEEP]
    assert guard.admit(TP1, 6, set()) is Admit.RESEEK  # the usual check after a seek


def test_a_held_partition_without_a_committed_offset_is_read_again_from_its_first_dropped_record() -> None:
    guard = SeekGuard()
    guard.assigned([TP0])
    assert [guard.admit(TP0, n, set()) for n in (3, 0, 1)] == [Admit.DROP] * 3
    guard.sought({TP0: None})
    assert guard.resumed() == {TP0: 0}  # a seek to no committed offset moved nothing
    assert guard.admit(TP0, 2, set()) is Admit.RESEEK  # still the old position: sought to 0 again
    assert guard.admit(TP0, 0, set()) is Admit.KEEP


def test_a_revoked_partition_is_no_longer_held() -> None:
    guard = SeekGuard()
    guard.assigned([TP0])
    guard.revoked([TP0])
    assert guard.admit(TP0, 4, set()) is Admit.KEEP
    guard.sought({TP0: 4})
    assert guard.resumed() == {}
    assert guard.admit(TP0, 4, set()) is Admit.KEEP


def test_a_sought_partition_stays_held_until_the_flow_is_resumed() -> None:
    """Seen live on a frozen rules worker's rejoin: Faust sought the partitions, records were handed
    to the agents, then Faust resumed its flow control, which cleared the agents' queues. Faust had
    counted those records as read: one event never reached the rules and its offset was committed
    over; with two or more lost, the partition's commits stopped for good."""
    guard = SeekGuard()
    guard.assigned([TP0, TP1])
    guard.sought({TP0: 10, TP1: None})
    assert [guard.admit(TP0, n, set()) for n in (10, 11)] == [Admit.DROP, Admit.DROP]
    assert guard.admit(TP1, 0, set()) is Admit.DROP
    assert guard.resumed() == {TP0: 10, TP1: 0}
    assert guard.admit(TP0, 12, set()) is Admit.RESEEK  # the old position, before the seek lands
    assert [guard.admit(TP0, n, set()) for n in (10, 11)] == [Admit.KEEP, Admit.KEEP]
    assert guard.admit(TP1, 0, set()) is Admit.KEEP
    assert guard.resumed() == {}  # a later resume releases nothing more


def test_a_held_partition_not_sought_yet_stays_held_when_the_flow_is_resumed() -> None:
    """Faust's recovery resumes its flow before it seeks the stream partitions when it has tables
    to restore."""
    guard = SeekGuard()
    guard.assigned([TP0])
    assert guard.resumed() == {}
    assert guard.admit(TP0, 3, set()) is Admit.DROP
    guard.sought({TP0: 3})
    assert guard.resumed() == {TP0: 3}


def test_every_worker_consumes_through_the_guard() -> None:
    from streams.apps.worker_app import Role, create_app
    from streams.infra.kafka.faust_app import GuardedConsumer
    from streams.infra.settings import Settings

    settings = Settings(
        kafka_bootstrap="127.0.0.1:1",
        influx_url="http://127.0.0.1:1",
        pager_webhook_url="http://127.0.0.1:1/page",
    )
    for role in Role:
        app = create_app(role, settings, store="memory://")
        assert isinstance(app.consumer, GuardedConsumer), role
