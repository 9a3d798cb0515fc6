"""A session's baseline windows (before and just after the start), each vital's values kept sorted,
so the baseline, their medians, costs neither a scan nor a sort per reading while a 1 Hz oximeter
fills them. Memory only, beside the readings it comes from: built from them when missing or when
the start moved, dropped when a trim or a repair removes readings it may hold."""

from __future__ import annotations

import bisect
from datetime import datetime

from agents.rules.minute_index import readings_between
from models.state import Reading, SessionState, memory_of


class BaselineWindows:
    """Sorted values per vital of the readings in [pre_from, start) and in [start, post_to)."""

    __slots__ = ("post", "post_to", "pre", "pre_from", "start")

    def __init__(self, start: datetime, pre_from: datetime, post_to: datetime) -> None:
        self.start, self.pre_from, self.post_to = start, pre_from, post_to
        self.pre: dict[str, list[float]] = {}
        self.post: dict[str, list[float]] = {}

    def __eq__(self, other: object) -> bool:
        """Derived from the readings, which the state's equality compares already."""
        return other is None or isinstance(other, BaselineWindows)

    __hash__ = None  # type: ignore[assignment]

    def add(self, reading: Reading) -> None:
        ts = reading.ts
        if self.pre_from <= ts < self.start:
            window = self.pre
        elif self.start <= ts < self.post_to:
            window = self.post
        else:
            return
        for name, value in reading.values.items():
            bisect.insort(window.setdefault(name, []), value)

    def after_start(self) -> list[str]:
        """The vitals whose median comes from the window after the start (none before it)."""
        return sorted(name for name in self.post if name not in self.pre)

    def medians(self) -> dict[str, float]:
        """The medians of the window after the start, overridden by those of the window before."""
        result = {name: _median(values) for name, values in self.post.items()}
        result.update({name: _median(values) for name, values in self.pre.items()})
        return result


def _median(ordered: list[float]) -> float:
    """statistics.median of an already sorted list (the same arithmetic)."""
    n = len(ordered)
    if n % 2 == 1:
        return ordered[n // 2]
    i = n // 2
    return (ordered[i - 1] + ordered[i]) / 2


def windows_of(
    session: SessionState, start: datetime, pre_from: datetime, post_to: datetime
) -> BaselineWindows:
    windows: BaselineWindows | None = memory_of(session)["_baseline"]
    if windows is None or (windows.start, windows.pre_from, windows.post_to) != (start, pre_from, post_to):
        windows = memory_of(session)["_baseline"] = BaselineWindows(start, pre_from, post_to)
        for reading in readings_between(session, pre_from, post_to):
            windows.add(reading)
    return windows


def note_reading(session: SessionState, reading: Reading) -> None:
    windows: BaselineWindows | None = memory_of(session)["_baseline"]
    if windows is not None:
        windows.add(reading)


def note_trimmed(session: SessionState, horizon: datetime) -> None:
    """Readings before `horizon` were dropped: the windows go if some of them may have been theirs."""
    windows: BaselineWindows | None = memory_of(session)["_baseline"]
    if windows is not None and horizon > windows.pre_from:
        memory_of(session)["_baseline"] = None


def forget(session: SessionState) -> None:
    memory_of(session)["_baseline"] = None
