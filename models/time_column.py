"""A sorted column of instants, compact in memory and in JSON: microseconds since the epoch in an
`array('q')` (8 bytes each), stored as the first value then the gaps (a session keeps the times of
the readings its thinning dropped: thousands at 1 Hz)."""

from __future__ import annotations

import bisect
import heapq
from array import array
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import PlainSerializer, PlainValidator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(ts: datetime) -> int:
    return (ts - EPOCH) // MICROSECOND


def instant(value: int) -> datetime:
    return EPOCH + MICROSECOND * value


def _read(data: Any) -> array[int]:
    if isinstance(data, array):
        return data
    if not isinstance(data, list) or not all(type(v) is int for v in data):
        raise ValueError("a time column must be a list of whole microseconds (first, then gaps)")
    try:
        column = array("q", accumulate(data))
    except OverflowError:
        raise ValueError("a time column's microseconds must fit 64 bits") from None
    if any(gap < 0 for gap in data[1:]):
        raise ValueError("a time column must be in time order")
    return column


def _write(column: array[int]) -> list[int]:
    return [b - a for a, b in zip([0, *column], column, strict=False)]


if TYPE_CHECKING:
    IntArray = array[int]
else:  # not subscriptable at run time before Python 3.12
    IntArray = array

TimeColumn = Annotated[IntArray, PlainValidator(_read), PlainSerializer(_write, when_used="json")]


def merge(column: array[int], times: list[int]) -> None:
    """Insert sorted `times` in time order: as one block where they fit between two entries (a
    minute thinned for the first time), else merged (a minute thinned again after a clock repair
    moved the newest reading back)."""
    if not times:
        return
    at = bisect.bisect_right(column, times[0])
    if at == len(column) or column[at] >= times[-1]:
        column[at:at] = array("q", times)
    else:
        column[at:] = array("q", heapq.merge(column[at:], times))


def between(column: array[int], after: datetime, until: datetime) -> list[datetime]:
    """The instants in (after, until]."""
    lo = bisect.bisect_right(column, micros(after))
    hi = bisect.bisect_right(column, micros(until), lo=lo)
    return [instant(v) for v in column[lo:hi]]


def drop_before(column: array[int], ts: datetime) -> None:
    del column[: bisect.bisect_left(column, micros(ts))]


def drop_after(column: array[int], ts: datetime) -> None:
    del column[bisect.bisect_right(column, micros(ts)) :]
