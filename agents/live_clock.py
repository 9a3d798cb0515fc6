"""The rule agents' clock. In production it is the wall clock: no event, nurse action or device can
move it, so none can fire another patient's timers. Accelerated simulations (the demo's and the
tests' own stacks, `IVIGWATCH_SIMULATED_CLOCK`) use a clock that follows the latest event time seen.

Either way an item's arrival is what runs its own partition's clock (see `RulesRuntime`), and the
tick fires the timers of a partition that has nothing left to read at the clock as it read a few
wall-clock seconds ago (`settled`): a record produced before that moment has reached its partition's
end offset by then, so a timer never fires ahead of a reading already on its way.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from models.parsing import arrival_time

SAMPLE_SECONDS = 0.05
"""A simulated clock remembers its reading at most this often (wall-clock seconds)."""


class LiveClock(Protocol):
    def observe(self, ts: datetime) -> None:
        """An event timed `ts` was accepted."""

    def now(self) -> datetime: ...

    def arrival(self, item_ts: datetime, record_ts: float | None) -> datetime:
        """When an item arrived as this clock counts time (`record_ts`: the Kafka record's
        timestamp in seconds, None when unknown)."""

    def settled(self, delay: float) -> datetime:
        """The clock as it read `delay` wall-clock seconds ago (never later than it reads now)."""


class WallClock:
    """Production: the wall clock, whatever the events say."""

    def observe(self, ts: datetime) -> None:
        return None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def arrival(self, item_ts: datetime, record_ts: float | None) -> datetime:
        """The record's timestamp, never later than now (a producer may stamp it from a wrong clock;
        the broker's LogAppendTime never is)."""
        return arrival_time(record_ts, self.now())

    def settled(self, delay: float) -> datetime:
        return self.now() - timedelta(seconds=delay)


@dataclass
class SimulatedClock:
    """Simulations only: the later of the wall clock and the latest event time seen, so an
    accelerated run behaves as its replay does (an item arrives at its own time, as a recorded
    line without `received_ts` does in replay)."""

    latest_event: datetime | None = None
    _samples: deque[tuple[float, datetime]] = field(default_factory=deque)

    def observe(self, ts: datetime) -> None:
        if self.latest_event is None or ts > self.latest_event:
            self.latest_event = ts
            if not self._samples or time.monotonic() - self._samples[-1][0] >= SAMPLE_SECONDS:
                self._sample()

    def now(self) -> datetime:
        wall = datetime.now(UTC)
        return wall if self.latest_event is None else max(wall, self.latest_event)

    def arrival(self, item_ts: datetime, record_ts: float | None) -> datetime:
        return item_ts

    def settled(self, delay: float) -> datetime:
        self._sample()
        cutoff = time.monotonic() - delay
        while len(self._samples) > 1 and self._samples[1][0] <= cutoff:
            self._samples.popleft()
        wall = datetime.now(UTC) - timedelta(seconds=delay)
        if not self._samples or self._samples[0][0] > cutoff:
            return wall
        return max(wall, self._samples[0][1])

    def _sample(self) -> None:
        if self.latest_event is not None and (not self._samples or self._samples[-1][1] != self.latest_event):
            self._samples.append((time.monotonic(), self.latest_event))


def live_clock(simulated: bool) -> LiveClock:
    return SimulatedClock() if simulated else WallClock()
