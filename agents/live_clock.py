"""The rule agents' clock. In production it is the wall clock: no event, nurse action or device can
move it, so none can fire another patient's timers. Accelerated simulations (the demo's and the
tests' own stacks, `IVIGWATCH_SIMULATED_CLOCK`) use a clock that follows the latest event time seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class LiveClock(Protocol):
    def observe(self, ts: datetime) -> None:
        """An event timed `ts` was accepted."""

    def now(self) -> datetime: ...


class WallClock:
    """Production: the wall clock, whatever the events say."""

    def observe(self, ts: datetime) -> None:
        return None

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class SimulatedClock:
    """Simulations only: the later of the wall clock and the latest event time seen, so an
    accelerated run behaves as its replay does."""

    latest_event: datetime | None = None

    def observe(self, ts: datetime) -> None:
        if self.latest_event is None or ts > self.latest_event:
            self.latest_event = ts

    def now(self) -> datetime:
        wall = datetime.now(UTC)
        return wall if self.latest_event is None else max(wall, self.latest_event)


def live_clock(simulated: bool) -> LiveClock:
    return SimulatedClock() if simulated else WallClock()
