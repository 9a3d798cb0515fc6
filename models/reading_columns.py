"""A session's readings as stored: columns, not one JSON object per reading (a 1 Hz session holds
hundreds: about 18 bytes each instead of 95).

    {"shapes": [["spo2", "heart_rate"], ...],  the vitals of a reading, in order, once each
     "t": [...],  microseconds since the epoch of the first reading, then the gap to each next one
     "s": [...],  each reading's shape (omitted when there is only one)
     "x": [...],  the values of every reading, in order (whole numbers without their ".0")
     "o": [...]}  the positions of readings taken on oxygen

Exact: every timestamp (UTC, as the contract makes them) and every value comes back as it was.
A state stored before this (a list of readings) reads as well.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def to_columns(readings: list[Reading]) -> dict[str, Any]:
    shapes: dict[tuple[str, ...], int] = {}
    gaps: list[int] = []
    kinds: list[int] = []
    values: list[float | int] = []
    oxygen: list[int] = []
    previous = 0
    for n, reading in enumerate(readings):
        micros = (reading.ts - EPOCH) // MICROSECOND
        gaps.append(micros - previous)
        previous = micros
        shape = tuple(reading.values)
        kinds.append(shapes.setdefault(shape, len(shapes)))
        values.extend(_number(v) for v in reading.values.values())
        if reading.on_oxygen:
            oxygen.append(n)
    columns: dict[str, Any] = {"shapes": [list(s) for s in shapes], "t": gaps, "x": values, "o": oxygen}
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
    values: list[float] = data["x"]
    oxygen = set(data.get("o", ()))
    kinds: list[int] = data.get("s") or [0] * len(gaps)
    if len(kinds) != len(gaps) or not all(isinstance(g, int) for g in gaps):
        raise ColumnsError("readings columns differ in length")
    readings: list[Reading] = []
    micros = 0
    at = 0
    for n, (gap, kind) in enumerate(zip(gaps, kinds, strict=True)):
        micros += gap
        names = shapes[kind]
        reading = Reading.__new__(Reading)
        reading.ts = EPOCH + MICROSECOND * micros
        reading.values = {name: float(values[at + i]) for i, name in enumerate(names)}
        reading.on_oxygen = n in oxygen
        at += len(names)
        readings.append(reading)
    if at != len(values):
        raise ColumnsError("readings columns differ in length")
    return readings
