"""The 1-minute vitals rollups the writer computes itself (they replace InfluxDB's continuous query).

A rollup point of `rollup.vitals_1m` is the aggregate of every raw `vitals` point of one patient,
session and minute: `<vital>_mean`, `_min` and `_max` of each vital field and `readings`, the number of
points, exactly the fields `influx_schema.rollup_select` (the backfill) computes. The writer keeps
the minutes it has recently written in a `RollupBook` and, for each batch, rewrites the point of
every minute the batch touched (same series and timestamp: InfluxDB overwrites it, so a late reading
rewrites its minute and a rewrite is idempotent).

Memory never decides what a point holds, it only saves queries: a minute the book does not hold
(older than `ROLLUP_MEMORY`, first seen since the writer started or since a rebalance) is read back
from the raw points in InfluxDB after the batch's raw points were written (`raw_points_query`,
`rollups_from_series`), and a point the book has already counted (a redelivered message, two
readings of a device in the same millisecond, which InfluxDB stores as one point) makes the book
read its minute back too. Everything here is pure (no I/O); `rollup_writer` does the I/O.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from models.events import VITAL_NAMES, Vitals
from streams.infra.sinks.influx.influx_schema import (
    COUNTED_FIELD,
    RAW_MEASUREMENT,
    RAW_POLICY,
    ROLLUP_COUNT_FIELD,
    ROLLUP_INTERVAL,
    ROLLUP_MEASUREMENT,
    quote_ident,
    time_literal,
)
from streams.infra.sinks.influx.line_protocol import epoch_ms

ROLLUP_MEMORY = timedelta(minutes=15)
"""The book holds the minutes within 15 minutes (event time) of the newest reading the writer has
seen; a reading for an older minute has that minute read back from InfluxDB. 15 minutes covers the
ordinary lateness of the home devices (batched uploads, a gateway reconnecting) at about 1 KB per
patient-minute; a longer lateness costs one query per late stretch, never a wrong point."""
MINUTE_MS = int(ROLLUP_INTERVAL.total_seconds() * 1000)
SESSIONS_PER_QUERY = 100
"""Sessions read back in one InfluxQL query (the statement is sent in a POST body)."""
NO_DEVICE = ""
"""The `device_id` of a reading that had none (what GROUP BY "device_id" answers for it)."""

MinuteKey = tuple[str, str, int]
"""(patient_id, session_id, start of the minute in ms since the epoch): one rollup point."""


class MinuteRollup:
    """The aggregate of one patient's session in one minute, and the points it counted."""

    __slots__ = ("readings", "seen", "stats")

    def __init__(self) -> None:
        self.readings = 0
        self.stats: dict[str, list[float]] = {}
        """vital -> [number of values, sum, min, max]."""
        self.seen: dict[str, array[int]] = {}
        """device_id -> millisecond offsets in the minute of the points counted (2 bytes each)."""

    def add(self, device_id: str, offset_ms: int, values: Mapping[str, float]) -> bool:
        """Count one point; False (and nothing counted) when this device's point at this millisecond
        is counted already: InfluxDB holds one point there, perhaps with other values."""
        offsets = self.seen.get(device_id)
        if offsets is None:
            self.seen[device_id] = array("H", (offset_ms,))
        elif offset_ms in offsets:
            return False
        else:
            offsets.append(offset_ms)
        self.readings += 1
        for name, value in values.items():
            stat = self.stats.get(name)
            if stat is None:
                self.stats[name] = [1.0, value, value, value]
            else:
                stat[0] += 1.0
                stat[1] += value
                if value < stat[2]:
                    stat[2] = value
                if value > stat[3]:
                    stat[3] = value
        return True

    def fields(self) -> dict[str, float | int]:
        """The rollup point's fields, as the backfill names and types them (`readings` an integer)."""
        fields: dict[str, float | int] = {}
        for name in VITAL_NAMES:
            stat = self.stats.get(name)
            if stat is not None:
                count, total, low, high = stat
                fields[f"{name}_mean"] = total / count
                fields[f"{name}_min"] = low
                fields[f"{name}_max"] = high
        fields[ROLLUP_COUNT_FIELD] = self.readings
        return fields


def minute_of(ts_ms: int) -> int:
    return ts_ms - ts_ms % MINUTE_MS


def reading_key(reading: Vitals) -> tuple[MinuteKey, str, int]:
    """The reading's minute, its device (`NO_DEVICE` when none) and its millisecond in the minute."""
    ts_ms = epoch_ms(reading.ts)
    minute = minute_of(ts_ms)
    return (reading.patient_id, reading.session_id, minute), reading.device_id or NO_DEVICE, ts_ms - minute


_ESCAPE_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
"""Line protocol's escapes of a tag value, as the client library's `Point` writes them."""


def _tag(value: str) -> str:
    return value.translate(_ESCAPE_TAG)


def rollup_line(key: MinuteKey, rollup: MinuteRollup) -> str:
    """The line-protocol line of one rollup point (policy `rollup`, timestamped at its minute): floats
    as Python's shortest repr, `readings` an integer (`3i`). Formatted here rather than by the client
    library's `Point`, which took four times as long (one line per session and batch)."""
    patient_id, session_id, minute = key
    fields = ",".join(
        f"{name}={value}i" if isinstance(value, int) else f"{name}={value!r}"
        for name, value in rollup.fields().items()
    )
    return (
        f"{ROLLUP_MEASUREMENT},patient_id={_tag(patient_id)},session_id={_tag(session_id)} {fields} {minute}"
    )


@dataclass
class BookUpdate:
    touched: set[MinuteKey]
    """Every minute the readings fall in: their points are to be (re)written."""
    unknown: set[MinuteKey]
    """Those the book cannot compute: to be read back from InfluxDB (after the raw write)."""


class RollupBook:
    """The minutes of recent readings, each complete: every raw point of the minute is counted."""

    def __init__(self, memory: timedelta = ROLLUP_MEMORY) -> None:
        self.memory_ms = int(memory.total_seconds() * 1000)
        self.minutes: dict[MinuteKey, MinuteRollup] = {}
        self.newest_ms: int | None = None
        self._horizon_ms: int | None = None

    def __len__(self) -> int:
        return len(self.minutes)

    def horizon(self) -> int | None:
        """The oldest minute the book holds (ms), None before any reading."""
        return None if self.newest_ms is None else minute_of(self.newest_ms) - self.memory_ms

    def add(self, readings: Iterable[Vitals]) -> BookUpdate:
        """Count readings InfluxDB has taken into the minutes the book holds. A minute it does not
        hold, or one of whose points was counted already, is dropped from the book and reported as
        unknown: `load` it from what InfluxDB holds (which includes these readings)."""
        update = BookUpdate(set(), set())
        for reading in readings:
            key, device, offset = reading_key(reading)
            ts_ms = key[2] + offset
            if self.newest_ms is None or ts_ms > self.newest_ms:
                self.newest_ms = ts_ms
            update.touched.add(key)
            if key in update.unknown:
                continue
            rollup = self.minutes.get(key)
            if rollup is None or not rollup.add(device, offset, reading.values()):
                self.minutes.pop(key, None)
                update.unknown.add(key)
        return update

    def load(self, rollups: Mapping[MinuteKey, MinuteRollup]) -> None:
        """Take minutes as read back from InfluxDB."""
        self.minutes.update(rollups)

    def get(self, key: MinuteKey) -> MinuteRollup | None:
        return self.minutes.get(key)

    def forget(self) -> None:
        """Drop every minute (a rebalance: another writer may have written this book's sessions)."""
        self.minutes.clear()

    def evict(self) -> int:
        """Drop the minutes older than the memory; returns how many (a scan only when it moved)."""
        horizon = self.horizon()
        if horizon is None or horizon == self._horizon_ms:
            return 0
        self._horizon_ms = horizon
        old = [key for key in self.minutes if key[2] < horizon]
        for key in old:
            del self.minutes[key]
        return len(old)


def string_literal(value: str) -> str:
    """An InfluxQL single-quoted string."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class ReadBack:
    """One query reading back the raw points of some sessions over [start, end) (ms)."""

    sessions: tuple[str, ...]
    start_ms: int
    end_ms: int


def read_backs(keys: Iterable[MinuteKey], per_query: int = SESSIONS_PER_QUERY) -> list[ReadBack]:
    """The queries that cover `keys`: each session's span of minutes, sessions with the same span
    together (after a restart, every session's current minute), at most `per_query` to a query."""
    spans: dict[str, tuple[int, int]] = {}
    for _, session_id, minute in keys:
        low, high = spans.get(session_id, (minute, minute))
        spans[session_id] = (min(low, minute), max(high, minute))
    by_span: dict[tuple[int, int], list[str]] = {}
    for session_id, span in sorted(spans.items()):
        by_span.setdefault(span, []).append(session_id)
    return [
        ReadBack(tuple(sessions[at : at + per_query]), low, high + MINUTE_MS)
        for (low, high), sessions in sorted(by_span.items())
        for at in range(0, len(sessions), per_query)
    ]


def raw_points_query(db: str, read_back: ReadBack) -> str:
    """The raw vitals points of the sessions in the span, one series per patient, session and device."""
    fields = ", ".join(quote_ident(name) for name in (*VITAL_NAMES, COUNTED_FIELD))
    source = f"{quote_ident(db)}.{quote_ident(RAW_POLICY)}.{quote_ident(RAW_MEASUREMENT)}"
    sessions = " OR ".join(f'"session_id" = {string_literal(s)}' for s in read_back.sessions)
    start = time_literal(datetime.fromtimestamp(read_back.start_ms / 1000, UTC))
    end = time_literal(datetime.fromtimestamp(read_back.end_ms / 1000, UTC))
    return (
        f"SELECT {fields} FROM {source} WHERE ({sessions}) "  # noqa: S608 - quoted; ids are pseudonyms
        f'AND time >= {start} AND time < {end} GROUP BY "patient_id", "session_id", "device_id"'
    )


def rollups_from_series(
    series: Sequence[Mapping[str, Any]], wanted: set[MinuteKey]
) -> dict[MinuteKey, MinuteRollup]:
    """The minutes of `wanted` computed from a `raw_points_query` answer (epoch=ms), every point
    counted once; a wanted minute without points is left out."""
    found: dict[MinuteKey, MinuteRollup] = {}
    for s in series:
        tags = s.get("tags") or {}
        patient_id, session_id = tags.get("patient_id", ""), tags.get("session_id", "")
        device = tags.get("device_id") or NO_DEVICE
        columns = list(s["columns"])
        vitals = [(i, name) for i, name in enumerate(columns) if name in VITAL_NAMES]
        for row in s.get("values", []):
            ts_ms = int(row[0])
            minute = minute_of(ts_ms)
            key = (patient_id, session_id, minute)
            if key not in wanted:
                continue
            rollup = found.get(key)
            if rollup is None:
                rollup = found[key] = MinuteRollup()
            values = {name: float(row[i]) for i, name in vitals if row[i] is not None}
            rollup.add(device, ts_ms - minute, values)
    return found
