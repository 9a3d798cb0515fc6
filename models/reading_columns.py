"""A session's readings as stored: columns, not one JSON object per reading (a 1 Hz session holds
hundreds: about 22 bytes each instead of 95).

    {"shapes": [["spo2", "heart_rate"], ...],  the vitals of a reading, in order, once each
     "t": [...],  microseconds since the epoch of the first reading, then the gap to each next one
     "s": [...],  each reading's shape (omitted when there is only one)
     "x": [...],  the values of every reading, in order
     "o": [...]}  the positions of readings taken on oxygen

Exact: every timestamp (UTC, as the contract makes them) and every value comes back as it was.
A state stored before this (a list of readings) reads as well.
"""

from __future__ import annotations

from datetime import datetime
from itertools import accumulate
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from models.time_column import EPOCH, MICROSECOND

SHARED_VALUES = 50_000
"""Distinct value sets shared at most; past that the table starts again (the readings keep theirs)."""
_shared: dict[tuple[tuple[str, float], ...], dict[str, float]] = {}


def shared_values(values: dict[str, float]) -> dict[str, float]:
    """One dict for every reading with the same values in the same order (a worn oximeter repeats a
    few hundred pairs): ~230 bytes a reading less. Readings never change their values dict. A zero
    is never shared (0.0 equals -0.0, which must come back as it was)."""
    if not all(values.values()):
        return values
    key = tuple(values.items())
    found = _shared.get(key)
    if found is not None:
        return found
    if len(_shared) >= SHARED_VALUES:
        _shared.clear()
    _shared[key] = values
    return values


@dataclass(slots=True, config=ConfigDict(extra="ignore"))
class Reading:
    """One reading of a session's history: a slotted dataclass, not a model, whose values dict is
    shared with the readings of equal values (a 1 Hz session holds hundreds: ~110 against 768 bytes
    each in memory). Its values are never changed in place."""

    ts: datetime
    values: Annotated[dict[str, float], AfterValidator(shared_values)]
    on_oxygen: bool = False


def to_columns(readings: list[Reading]) -> dict[str, Any]:
    """The readings' columns, encoded afresh."""
    return ColumnsCache().columns(readings)


class ColumnsError(ValueError):
    """Stored readings that do not add up (a damaged state)."""


class StoredColumns(BaseModel):
    """The columns as JSON gives them (parsed natively; `from_stored` makes the readings)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    shapes: list[list[str]]
    t: list[int]
    x: list[float]
    o: list[int] = []
    s: list[int] | None = None


COLUMNS_FROM = 64
"""A session with fewer readings is stored as a plain list, which Pydantic reads and writes natively
(faster than the columns' Python loop at that size)."""


def as_readings(data: list[Reading] | StoredColumns) -> list[Reading]:
    """After validation: the readings, from the columns when stored so."""
    if isinstance(data, list):
        return data
    try:
        return _from_columns(data)
    except ColumnsError:
        raise
    except (IndexError, ValueError, OverflowError) as exc:
        raise ColumnsError(f"readings columns do not add up: {type(exc).__name__}") from None


_STORED = TypeAdapter(list[Reading] | StoredColumns)


def from_stored(data: Any) -> list[Reading]:
    """Columns as `to_columns` writes them, or a list of readings (as stored below COLUMNS_FROM)."""
    try:
        return as_readings(_STORED.validate_python(data))
    except ValidationError as exc:
        raise ColumnsError(f"readings are neither columns nor a list: {exc.error_count()} errors") from None


def _from_columns(columns: StoredColumns) -> list[Reading]:
    shapes, gaps, values, kinds = columns.shapes, columns.t, columns.x, columns.s or [0] * len(columns.t)
    oxygen = set(columns.o)
    if len(kinds) != len(gaps):
        raise ColumnsError("readings columns differ in length")
    widths = [len(shape) for shape in shapes]
    if any(not 0 <= k < len(shapes) for k in kinds):
        raise ColumnsError("readings columns name a shape they do not have")
    if any(gap < 0 for gap in gaps[1:]):
        raise ColumnsError("readings columns are not in time order")
    if any(not 0 <= i < len(gaps) for i in oxygen):
        raise ColumnsError("readings columns mark a reading they do not have")
    if sum(widths[k] for k in kinds) != len(values):
        raise ColumnsError("readings columns differ in length")
    readings: list[Reading] = []
    new, at = Reading.__new__, 0
    for n, (micros, kind) in enumerate(zip(accumulate(gaps), kinds, strict=True)):
        width = widths[kind]
        reading = new(Reading)
        reading.ts = EPOCH + MICROSECOND * micros
        reading.values = shared_values(dict(zip(shapes[kind], values[at : at + width], strict=True)))
        reading.on_oxygen = n in oxygen
        at += width
        readings.append(reading)
    return readings


class ColumnsCache:
    """The columns of `readings[:n]` as last stored, so that a checkpoint encodes only the readings
    added since (memory only, beside a session: about 60 bytes a reading). Whoever changes the
    readings before their end says so: `cut(p)` after a change at position p (a late insertion, a
    thinned minute), `drop_front(k)` after the oldest k were trimmed; a change it was not told of
    is caught at the ends it remembers (first and last reading), anything else drops the cache (a
    reassigned list). The columns it gives decode to exactly the readings; only the shapes' order
    may differ from a fresh encoding."""

    __slots__ = ("first", "gaps", "kinds", "last", "last_micros", "oxygen", "shapes", "values", "widths")

    def __init__(self) -> None:
        self.shapes: dict[tuple[str, ...], int] = {}
        self.gaps: list[int] = []
        """The first reading's microseconds since the epoch, then the gap to each next one."""
        self.last_micros = 0
        self.kinds: list[int] = []
        self.widths: list[int] = []
        self.values: list[float] = []
        self.oxygen: list[int] = []
        self.first: Reading | None = None
        self.last: Reading | None = None
        """The readings at both ends of those encoded (None after a cut or a trim: taken on trust)."""

    def __eq__(self, other: object) -> bool:
        """Derived from the readings, which the state's equality compares already."""
        return other is None or isinstance(other, ColumnsCache)

    __hash__ = None  # type: ignore[assignment]

    def cut(self, position: int) -> None:
        """Readings from `position` on changed."""
        if position >= len(self.gaps):
            return
        del self.gaps[position:], self.kinds[position:], self.widths[position:]
        del self.values[sum(self.widths) :]
        self.oxygen = [i for i in self.oxygen if i < position]
        self.last_micros = sum(self.gaps)
        self.last = None
        if not position:
            self.first = None

    def drop_front(self, count: int) -> None:
        """The oldest `count` readings were removed."""
        if count <= 0 or not self.gaps:
            return
        if count >= len(self.gaps):
            self.cut(0)
            return
        del self.values[: sum(self.widths[:count])]
        first = sum(self.gaps[: count + 1])
        del self.gaps[:count], self.kinds[:count], self.widths[:count]
        self.gaps[0] = first
        self.oxygen = [i - count for i in self.oxygen if i >= count]
        self.first = None

    def columns(self, readings: list[Reading]) -> dict[str, Any]:
        n = len(self.gaps)
        if n and n <= len(readings):  # after a cut or a trim, as told
            self.first = readings[0] if self.first is None else self.first
            self.last = readings[n - 1] if self.last is None else self.last
        if n and not (n <= len(readings) and readings[0] is self.first and readings[n - 1] is self.last):
            self.cut(0)
            n = 0
        shapes = self.shapes
        added = readings[n:]
        micros = [(r.ts - EPOCH) // MICROSECOND for r in added]
        self.gaps.extend(b - a for a, b in zip([self.last_micros if n else 0, *micros], micros, strict=False))
        if micros:
            self.last_micros = micros[-1]
        self.kinds.extend(shapes.setdefault(tuple(r.values), len(shapes)) for r in added)
        self.widths.extend(len(r.values) for r in added)
        self.values.extend(v for r in added for v in r.values.values())
        self.oxygen.extend(n + i for i, r in enumerate(added) if r.on_oxygen)
        self.first, self.last = (readings[0], readings[-1]) if readings else (None, None)
        columns: dict[str, Any] = {  # copies: a dump (or a caller) may keep them
            "shapes": [list(s) for s in shapes],
            "t": self.gaps.copy(),
            "x": self.values.copy(),
            "o": self.oxygen.copy(),
        }
        if len(shapes) > 1:
            columns["s"] = self.kinds.copy()
        return columns
