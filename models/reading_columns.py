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

from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from pydantic import ConfigDict, TypeAdapter
from pydantic.dataclasses import dataclass

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True, config=ConfigDict(extra="ignore"))
class Reading:
    """One reading of a session's history: a slotted dataclass, not a model (a 1 Hz session holds
    hundreds: 342 against 768 bytes each in memory)."""

    ts: datetime
    values: dict[str, float]
    on_oxygen: bool = False


_AS_LIST = TypeAdapter(list[Reading])


def to_columns(readings: list[Reading]) -> dict[str, Any]:
    """One list per column, built by comprehensions (about 0.5 µs a reading: a checkpoint stores
    every changed state whole)."""
    shapes: dict[tuple[str, ...], int] = {}
    micros = [(r.ts - EPOCH) // MICROSECOND for r in readings]
    kinds = [shapes.setdefault(tuple(r.values), len(shapes)) for r in readings]
    columns: dict[str, Any] = {
        "shapes": [list(s) for s in shapes],
        "t": [b - a for a, b in zip([0, *micros], micros, strict=False)],
        "x": [v for r in readings for v in r.values.values()],
        "o": [n for n, r in enumerate(readings) if r.on_oxygen],
    }
    if len(shapes) > 1:
        columns["s"] = kinds
    return columns


class ColumnsError(ValueError):
    """Stored readings that do not add up (a damaged state)."""


def from_stored(data: Any) -> list[Reading]:
    """Columns as `to_columns` writes them, a list of readings (states stored before), or readings."""
    if isinstance(data, list):
        if all(isinstance(r, Reading) for r in data):
            return data
        return _AS_LIST.validate_python(data)
    if not isinstance(data, dict):
        raise ColumnsError("readings must be columns or a list")
    try:
        return _from_columns(data)
    except ColumnsError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ColumnsError(f"readings columns do not add up: {type(exc).__name__}") from None


def _from_columns(data: dict[str, Any]) -> list[Reading]:
    shapes: list[list[str]] = data["shapes"]
    gaps: list[int] = data["t"]
    values: list[float] = [float(v) for v in data["x"]]
    oxygen = set(data.get("o", ()))
    kinds: list[int] = data.get("s") or [0] * len(gaps)
    if len(kinds) != len(gaps) or not all(type(g) is int for g in gaps):
        raise ColumnsError("readings columns differ in length")
    widths = [len(shape) for shape in shapes]
    if sum(widths[k] for k in kinds) != len(values):
        raise ColumnsError("readings columns differ in length")
    readings: list[Reading] = []
    new, at = Reading.__new__, 0
    for n, (micros, kind) in enumerate(zip(accumulate(gaps), kinds, strict=True)):
        width = widths[kind]
        reading = new(Reading)
        reading.ts = EPOCH + MICROSECOND * micros
        reading.values = dict(zip(shapes[kind], values[at : at + width], strict=True))
        reading.on_oxygen = n in oxygen
        at += width
        readings.append(reading)
    return readings
