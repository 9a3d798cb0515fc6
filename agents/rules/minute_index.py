"""Per-minute extremes of a session's readings, so a window's lowest or highest value of a vital
costs its two edge minutes and one lookup per whole minute instead of a scan of every reading in
it (a 1 Hz oximeter puts 1,800 readings in the together window).

The readings stay the truth: the index lives beside them in memory only, is rebuilt from them
after a load, and is told of every insertion and trim. A bucket that a trim may have emptied in
part (the trim horizon's minute and before) is never used: those minutes are read raw.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from models.state import Reading, SessionState, memory_of
from models.time_column import EPOCH

MINUTE = timedelta(minutes=1)


def minute_of(ts: datetime) -> int:
    return (ts - EPOCH) // MINUTE


def minute_start(minute: int) -> datetime:
    return EPOCH + MINUTE * minute


def reading_ts(reading: Reading) -> datetime:
    return reading.ts


class MinuteIndex:
    """Per minute, per vital: [lowest, highest] of the session's readings in that minute."""

    __slots__ = ("buckets", "trusted_from")

    def __init__(self) -> None:
        self.buckets: dict[int, dict[str, list[float]]] = {}
        self.trusted_from: int | None = None
        """Buckets of earlier minutes may miss trimmed readings' effect no more: they are read raw."""

    def __eq__(self, other: object) -> bool:
        """A cache derived from the readings, which the state's equality compares already: it
        never makes two states differ (one may hold it built, the other not yet)."""
        return other is None or isinstance(other, MinuteIndex)

    __hash__ = None  # type: ignore[assignment]

    def add(self, reading: Reading) -> None:
        bucket = self.buckets.setdefault(minute_of(reading.ts), {})
        for name, value in reading.values.items():
            pair = bucket.get(name)
            if pair is None:
                bucket[name] = [value, value]
            elif value < pair[0]:
                pair[0] = value
            elif value > pair[1]:
                pair[1] = value

    def trimmed_before(self, horizon: datetime) -> None:
        """Readings before `horizon` were dropped: its minute and earlier ones are read raw from now."""
        first = minute_of(horizon) + 1
        old = self.trusted_from
        if old is not None and first <= old:
            return
        self.trusted_from = first
        if old is not None and first - old <= 8:
            for minute in range(old, first):
                self.buckets.pop(minute, None)
        else:
            self.buckets = {m: b for m, b in self.buckets.items() if m >= first}


SCAN_AT_MOST = 120
"""A window holding at most this many readings is scanned: the index is built only for a session
whose windows are dense (a worn oximeter), so that sparse spot readings cost it no memory."""


def index_of(session: SessionState) -> MinuteIndex:
    index: MinuteIndex | None = memory_of(session)["_minutes"]
    if index is None:
        index = memory_of(session)["_minutes"] = MinuteIndex()
        for reading in session.readings:
            index.add(reading)
    return index


def note_added(session: SessionState, reading: Reading) -> None:
    """A reading was inserted: the index, if built, takes it."""
    index: MinuteIndex | None = memory_of(session)["_minutes"]
    if index is not None:
        index.add(reading)


def note_trimmed(session: SessionState, horizon: datetime) -> None:
    """Readings before `horizon` were dropped."""
    index: MinuteIndex | None = memory_of(session)["_minutes"]
    if index is not None:
        index.trimmed_before(horizon)


def readings_between(session: SessionState, since: datetime, until: datetime) -> list[Reading]:
    """The session's readings timed in [since, until], in time order."""
    readings = session.readings
    lo = bisect.bisect_left(readings, since, key=reading_ts)
    return readings[lo : bisect.bisect_right(readings, until, lo=lo, key=reading_ts)]


def readings_since(session: SessionState, since: datetime) -> list[Reading]:
    """The session's readings timed at or after `since`, in time order."""
    return session.readings[bisect.bisect_left(session.readings, since, key=reading_ts) :]


def _raw_extreme(
    session: SessionState, name: str, since: datetime, before: datetime, *, lowest: bool
) -> float | None:
    """Over readings in [since, before) (`before` exclusive)."""
    readings = session.readings
    lo = bisect.bisect_left(readings, since, key=reading_ts)
    return _extreme_of(
        readings[lo : bisect.bisect_left(readings, before, lo=lo, key=reading_ts)], name, lowest
    )


def _extreme_of(readings: list[Reading], name: str, lowest: bool) -> float | None:
    values = [r.values[name] for r in readings if name in r.values]
    if not values:
        return None
    return min(values) if lowest else max(values)


def extreme_between(
    session: SessionState, name: str, since: datetime, until: datetime, *, lowest: bool
) -> float | None:
    """The lowest (or highest) value of vital `name` among the session's readings in [since, until]."""
    if until < since:
        return None
    readings = session.readings
    lo = bisect.bisect_left(readings, since, key=reading_ts)
    hi = bisect.bisect_right(readings, until, lo=lo, key=reading_ts)
    if hi - lo <= SCAN_AT_MOST:
        return _extreme_of(readings[lo:hi], name, lowest)
    index = index_of(session)
    first = minute_of(since) + 1
    if index.trusted_from is not None:
        first = max(first, index.trusted_from)
    last = minute_of(until) - 1
    just_after = until + timedelta(microseconds=1)
    if first > last:
        return _raw_extreme(session, name, since, just_after, lowest=lowest)
    found = [
        v
        for v in (
            _raw_extreme(session, name, since, minute_start(first), lowest=lowest),
            _raw_extreme(session, name, minute_start(last + 1), just_after, lowest=lowest),
        )
        if v is not None
    ]
    side = 0 if lowest else 1
    buckets = index.buckets
    for minute in range(first, last + 1):
        bucket = buckets.get(minute)
        if bucket is not None and (pair := bucket.get(name)) is not None:
            found.append(pair[side])
    if not found:
        return None
    return min(found) if lowest else max(found)


def latest_with(session: SessionState, name: str, ts: datetime | None = None) -> Reading | None:
    """The last reading holding vital `name` among those timed `ts` (default: the vital's latest
    time), as a scan from the end of the readings would find it."""
    at = session.latest_ts.get(name) if ts is None else ts
    if at is None:
        return None
    readings = session.readings
    i = bisect.bisect_right(readings, at, key=reading_ts) - 1
    while i >= 0 and readings[i].ts == at:
        if name in readings[i].values:
            return readings[i]
        i -= 1
    return None
