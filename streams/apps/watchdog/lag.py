"""Backlog arithmetic of one consumer group on one topic (pure): how long events have waited, per partition.

Each sample gives, per partition, the end offset (what has arrived) and the group's committed offset
(what has been processed). An event that existed at time t and is still not committed at time t' has
waited at least t' - t: the wait of a partition is measured from the first sample that saw an end
offset beyond the committed one. Measured per partition, so a stuck worker is not hidden by others
that keep up, and in sample time, so it does not depend on how many events arrive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_PENDING_MARKS = 10_000
"""Bound of the remembered (time, end offset) marks per partition during a long stall."""


@dataclass(frozen=True)
class Offsets:
    """One reading of a group on a topic: per partition, the end offset and the committed offset.

    A partition the group never committed counts from the topic's start offset (the workers read
    from the earliest offset), so the sampler fills it in: `committed` has every partition of `end`.
    """

    end: Mapping[int, int]
    committed: Mapping[int, int]

    def lag(self, partition: int) -> int:
        return max(0, self.end[partition] - self.committed.get(partition, 0))

    @property
    def total_lag(self) -> int:
        return sum(self.lag(p) for p in self.end)


@dataclass(frozen=True)
class PartitionView:
    """One partition after a sample."""

    lag: int
    waited_seconds: float
    """How long the oldest unprocessed event has waited (0 when none waits)."""
    from_before_start: bool
    """The oldest unprocessed event was already there at the first sample: its true age is unknown."""
    arrived: int
    consumed: int
    lag_then: int
    """Over the trend window (about `window_seconds` back): events arrived, consumed, and the lag then."""

    @property
    def catching_up(self) -> bool:
        """Processing goes on and the backlog shrinks: slow, but not stalled."""
        return self.consumed > 0 and self.lag < self.lag_then


@dataclass(frozen=True)
class BacklogView:
    """Every partition of the group after a sample, plus the span the trend covers."""

    partitions: Mapping[int, PartitionView]
    window_seconds: float

    @property
    def total_lag(self) -> int:
        return sum(v.lag for v in self.partitions.values())

    @property
    def oldest_wait(self) -> float:
        return max((v.waited_seconds for v in self.partitions.values()), default=0.0)

    @property
    def arrived(self) -> int:
        return sum(v.arrived for v in self.partitions.values())

    @property
    def consumed(self) -> int:
        return sum(v.consumed for v in self.partitions.values())

    def stalled(self, stall_seconds: float) -> list[int]:
        """Partitions whose oldest event waited `stall_seconds` or more while the backlog did not shrink."""
        return sorted(
            p for p, v in self.partitions.items() if v.waited_seconds >= stall_seconds and not v.catching_up
        )

    def caught_up(self, within_seconds: float) -> bool:
        """No event waits longer than `within_seconds`, nor since before the watchdog started."""
        return all(
            v.lag == 0 or (v.waited_seconds <= within_seconds and not v.from_before_start)
            for v in self.partitions.values()
        )


@dataclass
class Backlog:
    """Follows one group's offsets over time; `add` a sample, get the view of every partition."""

    window_seconds: float
    started_at: float | None = None
    pending: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    recent: deque[tuple[float, Offsets]] = field(default_factory=deque)

    def add(self, t: float, offsets: Offsets) -> BacklogView:
        if self.started_at is None:
            self.started_at = t
        self.recent.append((t, offsets))
        while len(self.recent) > 2 and self.recent[1][0] <= t - self.window_seconds:
            self.recent.popleft()  # keep one sample at or beyond the window's start
        then_t, then = self.recent[0]
        views = {}
        for partition, end in offsets.end.items():
            committed = offsets.committed.get(partition, 0)
            marks = self._marks(partition, t, end, committed)
            views[partition] = PartitionView(
                lag=offsets.lag(partition),
                waited_seconds=t - marks[0][0] if marks else 0.0,
                from_before_start=bool(marks) and marks[0][0] <= self.started_at,
                arrived=max(0, end - then.end.get(partition, end)),
                consumed=max(0, committed - then.committed.get(partition, committed)),
                lag_then=then.lag(partition) if partition in then.end else offsets.lag(partition),
            )
        return BacklogView(views, t - then_t)

    def _marks(self, partition: int, t: float, end: int, committed: int) -> list[tuple[float, int]]:
        """The (first seen, end offset) marks of events not yet committed, oldest first."""
        marks = self.pending.setdefault(partition, [])
        if end > committed and (not marks or marks[-1][1] < end):
            marks.append((t, end))
        drop = 0
        while drop < len(marks) and marks[drop][1] <= committed:
            drop += 1
        del marks[:drop]
        if len(marks) > MAX_PENDING_MARKS:
            del marks[1]  # the oldest mark gives the wait; later ones only refine it
        return marks
