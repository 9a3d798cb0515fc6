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
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
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

    def sought(self, offsets: Mapping[Hashable, int | None]) -> None:
        """Partitions were sought to these offsets (None or negative: no committed offset, so
        any first record is right)."""
        for tp, offset in offsets.items():
            self._retried.discard(tp)
            if offset is None or offset < 0:
                self._targets.pop(tp, None)
            else:
                self._targets[tp] = offset

    def target(self, tp: Hashable) -> int | None:
        return self._targets.get(tp)

    def admit(self, tp: Hashable, offset: int, stale: set[Hashable]) -> Admit:
        """What to do with one record; `stale` holds the partitions found stale in this fetch."""
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
