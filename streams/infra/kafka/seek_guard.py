"""After a seek, a partition's records must start again at the seek's offset (pure).

Faust seeks every input partition back to its committed offset when partitions are assigned. Records
a fetch returned before that seek may still be handed out after it (seen after a worker frozen past
its session rejoined its group): Faust then counts the offsets between the seek's and the first
stale record's as a gap to skip, and drops the re-fetched records as already read. Those events
never reach the agents, and their offsets are committed anyway. The guard sees each record before
Faust does: the first record of a partition after a seek must be at the seek's offset; one past it
is stale, so it and the rest of that fetch for the partition are dropped, and the partition is
sought to the seek's offset again. If the re-fetch still starts past it, the log really starts
later there (retention deleted what was not read in time), and the records are taken.

Between an assignment and that seek no record is handed out at all (held): Kafka's consumer fetches
an assigned partition from its committed offset as soon as Faust resumes it, before Faust has
sought it and learnt its committed offset. Faust then drops as already read every record below the
read offset its fetcher noted for the record it was handing out when the partition was revoked
(seen: 13-16 dropped, 22 noted), so the rules may get a later record before an earlier one; and
what is acked before Faust knows the committed offset is committed with no check for such a hole,
so the seek that follows may start past an event never processed. A partition stays held after its
seek until Faust resumes the flow: Faust's recovery seeks first and then resumes its flow control,
which clears every agent's queue, so a record handed out in between is thrown away unprocessed while
Faust counts it as read (seen: one event never reached the rules, whose offset Faust then committed
over; with two or more lost, the commits of the partition stopped for good). Held partitions are read
again from the committed offset, or from the first record dropped when there is none.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum


class Admit(Enum):
    KEEP = "keep"
    DROP = "drop"
    RESEEK = "reseek"
    """Drop this record and the rest of its fetch for the partition; seek to `target` again."""


@dataclass
class SeekGuard:
    _targets: dict[Hashable, int] = field(default_factory=dict)
    _retried: set[Hashable] = field(default_factory=set)
    _held: dict[Hashable, int | None] = field(default_factory=dict)
    """Partitions assigned and not released yet: the first offset dropped (None: none yet)."""
    _sought_held: dict[Hashable, int | None] = field(default_factory=dict)
    """Held partitions already sought: their committed offset (None: none)."""

    def assigned(self, tps: Iterable[Hashable]) -> None:
        """Partitions were assigned: their records are held until they are sought and the flow is
        resumed."""
        for tp in tps:
            self._held.setdefault(tp, None)

    def revoked(self, tps: Iterable[Hashable]) -> None:
        for tp in tps:
            self._held.pop(tp, None)
            self._sought_held.pop(tp, None)

    def sought(self, offsets: Mapping[Hashable, int | None]) -> None:
        """Partitions were sought to these offsets (None or negative: no committed offset, so any
        first record is right). A held partition stays held until the flow is resumed."""
        for tp, offset in offsets.items():
            committed = None if offset is None or offset < 0 else offset
            if tp in self._held:
                self._sought_held[tp] = committed
            else:
                self._expect(tp, committed)

    def resumed(self) -> dict[Hashable, int]:
        """Faust resumed its flow (its queues are cleared): the held partitions already sought are
        released. Returns those that dropped records, with the offset each must be sought to again:
        its committed offset, or without one the first record dropped (a seek to no committed offset
        moves nothing)."""
        again: dict[Hashable, int] = {}
        for tp, committed in list(self._sought_held.items()):
            del self._sought_held[tp]
            dropped = self._held.pop(tp, None)
            if dropped is not None:
                if committed is None:
                    committed = dropped
                again[tp] = committed
            self._expect(tp, committed)
        return again

    def _expect(self, tp: Hashable, committed: int | None) -> None:
        """The partition's next record must be at `committed` (None: any record is right)."""
        self._retried.discard(tp)
        if committed is None:
            self._targets.pop(tp, None)
        else:
            self._targets[tp] = committed

    def target(self, tp: Hashable) -> int | None:
        return self._targets.get(tp)

    def admit(self, tp: Hashable, offset: int, stale: set[Hashable]) -> Admit:
        """What to do with one record; `stale` holds the partitions found stale in this fetch."""
        if tp in self._held:
            dropped = self._held[tp]
            self._held[tp] = offset if dropped is None else min(dropped, offset)
            return Admit.DROP
        if tp in stale:
            return Admit.DROP
        target = self._targets.get(tp)
        if target is None:
            return Admit.KEEP
        if offset <= target:  # at the target; below it Faust drops the record as already read
            if offset == target:
                self._forget(tp)
            return Admit.KEEP
        if tp in self._retried:  # re-fetched from the target and still past it: the log starts later
            self._forget(tp)
            return Admit.KEEP
        self._retried.add(tp)
        stale.add(tp)
        return Admit.RESEEK

    def _forget(self, tp: Hashable) -> None:
        self._targets.pop(tp, None)
        self._retried.discard(tp)
