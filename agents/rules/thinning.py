"""A session's dense history, thinned as it ages (issue 17): a 1 Hz oximeter puts 7,200 readings in
the two hours of history, but the rules ask few things of old readings. Once a minute of readings is
older than the raw ring before the session's newest reading, it keeps per vital its record readings
only: each one lower, or higher, than every reading of that vital before it in the minute, or every
one after it (the first and last are records). With random noise that is about a third of a 1 Hz
minute; with an oximeter's steady values a few readings.

What stays exact, for every event however late (within the two hours of history):
- the lowest or highest value of a vital over any window whose two ends fall in different minutes
  (the together window and its cut at a resolution): a window takes a suffix of its first minute and
  a prefix of its last, and a suffix's or prefix's extreme is a record;
- the latest value of a vital at a minute's end, and so the latest of all; which vitals were read
  since any time.

The times of the readings it drops stay too (`SessionState.thinned_out`, 8 bytes each): a late
event is evaluated again at every later reading's time within its together window, as with the
full history (a pump start or a row firing between two kept readings is seen at the dropped
readings after it; found in review).

What is not exact: a window with both ends inside one thinned minute, which only a nurse's
resolution in the same minute as a late event's evaluation time makes (`_window_start`): a low or
high reading between the two ends may have been dropped for an equal one outside them.

Thinning waits until the session's baseline is final (its windows' medians need every reading, and
a start event may still come). It is deterministic in the event sequence, so a state reloaded from
its JSON thins as one kept in memory: a minute is thinned when the session's newest reading moves
past its boundary (and the backlog once, at the first reading after the baseline froze, kept in
`thinned`), never on a timer. A late reading in a minute already thinned stays until the history's
end. Thinning a thinned minute with more readings gives what thinning all of them at once gives:
records are kept, and a dropped reading never becomes one.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from agents.rules.minute_index import minute_of, minute_start, reading_ts
from agents.rules.session_columns import stored_columns
from models import time_column
from models.state import Reading, SessionState
from models.time_column import micros

RAW_RING = timedelta(minutes=2)
"""Readings this close to the session's newest one stay as they came: the newest reading's minute
and the one before it, where an event in order is evaluated (and a resolution may cut its window)."""


def keep_records(readings: list[Reading]) -> list[Reading]:
    """The readings of one minute that keep its window answers exact (see the module): per vital,
    each reading lower, or higher, than every one before it, or every one after it."""
    keep: set[int] = set()
    for name in {n for r in readings for n in r.values}:
        holding = [i for i, r in enumerate(readings) if name in r.values]
        for order in (holding, reversed(holding)):
            low = high = None
            for i in order:
                value = readings[i].values[name]
                if low is None or value < low:
                    low = value
                    keep.add(i)
                if high is None or value > high:
                    high = value
                    keep.add(i)
    return [r for i, r in enumerate(readings) if i in keep]


def _thin_minutes(session: SessionState, first: int | None, last: int) -> None:
    """Thin each minute in [first, last) (from the history's start when `first` is None)."""
    readings = session.readings
    hi = bisect.bisect_left(readings, minute_start(last), key=reading_ts)
    lo = 0 if first is None else bisect.bisect_left(readings, minute_start(first), hi=hi, key=reading_ts)
    if hi - lo < 2:
        return
    thinned: list[Reading] = []
    group: list[Reading] = []
    minute = None
    for reading in readings[lo:hi]:
        m = minute_of(reading.ts)
        if m != minute and group:
            thinned.extend(keep_records(group))
            group = []
        minute = m
        group.append(reading)
    thinned.extend(keep_records(group))
    if len(thinned) != hi - lo:
        kept = {id(r) for r in thinned}
        time_column.merge(session.thinned_out, [micros(r.ts) for r in readings[lo:hi] if id(r) not in kept])
        readings[lo:hi] = thinned
        stored_columns(session, lambda cache: cache.cut(lo))


def thin(session: SessionState, previous: datetime | None, newest: datetime) -> None:
    """After a reading: thin the minutes whose boundary the session's newest reading passed
    (`previous` is the newest one before it)."""
    if not session.baseline_final:
        return
    edge = minute_of(newest - RAW_RING)
    if not session.thinned:
        session.thinned = True
        _thin_minutes(session, None, edge)
    elif previous is not None and previous < newest and edge > (was := minute_of(previous - RAW_RING)):
        _thin_minutes(session, was, edge)
