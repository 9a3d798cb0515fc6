"""A session's dense history, thinned as it ages (issue 17): a 1 Hz oximeter puts 7,200 readings in
two hours of history, but the rules ask few things of old readings. Once a minute of readings is
older than the raw ring before the session's newest reading, only the readings a question can still
need stay in it:

- *edge minutes* (older than the ring, within the together window and the ring): per vital, the
  minute's suffix record lows and highs (a reading lower, or higher, than every one after it in the
  minute; its last reading is one). The lowest or highest value over a window that starts in the
  minute, or before it, and ends in the raw ring is then exactly what the full minute gives: the
  together window of every event in order, or late by less than the ring, and of every later
  reading it is evaluated at again.
- *old minutes* (older than that): per vital, its first lowest, first highest and last reading.

Every event gets the same latest value of each vital, the same answer to which vitals were read
since a time, and the same windows ending in the ring as with the full history. An event later than
the ring sees fewer of the readings after it (its composites are evaluated again at the kept
readings' times only) and, in the minutes it falls in, the kept readings only.

Thinning waits until the session's baseline is final (its windows' medians need every reading, and
a start event may still come). It is deterministic in the event sequence: a minute is thinned when
the session's newest reading moves past its boundary (and the backlog once, at the first reading
after the baseline froze, kept in `thinned`), never on a timer; a late reading in a minute already
thinned stays until that minute's next boundary or the history's end. Thinning a thinned minute with
more readings gives what thinning all of them at once gives (records are kept, and a dropped reading
never becomes one).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from datetime import datetime, timedelta

from agents.rules.minute_index import EPOCH, MINUTE, minute_of
from models.state import Reading, SessionState

RAW_RING = timedelta(minutes=5)
"""Readings this close to the session's newest one stay as they came."""


def _ts(reading: Reading) -> datetime:
    return reading.ts


def _start(minute: int) -> datetime:
    return EPOCH + MINUTE * minute


def edge_keep(readings: list[Reading]) -> list[Reading]:
    """The readings of one minute that keep its window answers exact (see the module)."""
    keep: set[int] = set()
    for name in {n for r in readings for n in r.values}:
        low = high = None
        for i in range(len(readings) - 1, -1, -1):
            value = readings[i].values.get(name)
            if value is None:
                continue
            if low is None or value < low:
                low = value
                keep.add(i)
            if high is None or value > high:
                high = value
                keep.add(i)
    return [r for i, r in enumerate(readings) if i in keep]


def old_keep(readings: list[Reading]) -> list[Reading]:
    """The readings of one minute that keep its extremes and its last value of each vital."""
    keep: set[int] = set()
    for name in {n for r in readings for n in r.values}:
        holding = [i for i, r in enumerate(readings) if name in r.values]
        keep.add(min(holding, key=lambda i: readings[i].values[name]))
        keep.add(max(holding, key=lambda i: readings[i].values[name]))
        keep.add(holding[-1])
    return [r for i, r in enumerate(readings) if i in keep]


def _thin_minutes(
    session: SessionState, first: int | None, last: int, keep_of: Callable[[list[Reading]], list[Reading]]
) -> None:
    """Thin each minute in [first, last) (from the history's start when `first` is None)."""
    readings = session.readings
    hi = bisect.bisect_left(readings, _start(last), key=_ts)
    lo = 0 if first is None else bisect.bisect_left(readings, _start(first), hi=hi, key=_ts)
    if hi - lo < 2:
        return
    thinned: list[Reading] = []
    group: list[Reading] = []
    minute = None
    for reading in readings[lo:hi]:
        m = minute_of(reading.ts)
        if m != minute and group:
            thinned.extend(keep_of(group))
            group = []
        minute = m
        group.append(reading)
    thinned.extend(keep_of(group))
    if len(thinned) != hi - lo:
        readings[lo:hi] = thinned


def thin(session: SessionState, previous: datetime | None, newest: datetime, together: timedelta) -> None:
    """After a reading: thin the minutes whose boundary the session's newest reading passed
    (`previous` is the newest one before it)."""
    if not session.baseline_final:
        return
    edge, old = minute_of(newest - RAW_RING), minute_of(newest - together - RAW_RING)
    if not session.thinned:
        session.thinned = True
        _thin_minutes(session, None, old, old_keep)
        _thin_minutes(session, old, edge, edge_keep)
        return
    if previous is None or previous >= newest:
        return
    was_edge, was_old = minute_of(previous - RAW_RING), minute_of(previous - together - RAW_RING)
    if old > was_old:
        _thin_minutes(session, was_old, old, old_keep)
    if edge > was_edge:
        _thin_minutes(session, max(was_edge, old), edge, edge_keep)
