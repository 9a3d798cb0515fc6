"""The writer's rollups: after a batch's raw points were taken, rewrite the 1-minute rollup point of
every minute the batch touched, into the `rollup` retention policy (see `rollups`).

Minutes the book does not hold are read back from the raw points as the reader user (the writer user
has WRITE only) before the points are written. While InfluxDB is down both the read-back and the
write are retried, as the sink retries raw points: the batch is held, never dropped. A read-back
InfluxDB refuses (a reader without READ on the database) leaves those minutes unwritten and says so
once per batch, with the `ivigwatch influx backfill` that rebuilds them; no id or value is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from models.events import Vitals
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.influx_schema import ROLLUP_POLICY
from streams.infra.sinks.influx.influx_sink import InfluxSink
from streams.infra.sinks.influx.rollups import (
    MinuteKey,
    MinuteRollup,
    RollupBook,
    raw_points_query,
    read_backs,
    rollup_line,
    rollups_from_series,
)

log = logging.getLogger(__name__)


@dataclass
class RollupReport:
    written: int = 0
    """Rollup points InfluxDB took."""
    read_back: int = 0
    """Minutes read back from the raw points (not held in memory)."""
    unread: int = 0
    """Minutes left unwritten: InfluxDB refused to read them back."""
    refused: int = 0
    """Rollup lines InfluxDB refused as bad data."""


class RollupWriter:
    def __init__(self, sink: InfluxSink, reader: InfluxClient, book: RollupBook | None = None) -> None:
        self.sink = sink
        self.reader = reader
        self.book = book if book is not None else RollupBook()

    async def write(self, readings: Sequence[Vitals]) -> RollupReport:
        """Rewrite the rollup points of the readings' minutes; `readings` are in InfluxDB already.
        Returns once InfluxDB took them (retrying while it is down)."""
        report = RollupReport()
        if not readings:
            return report
        update = self.book.add(readings)
        # Taken before any await: a rebalance may make the book forget its minutes meanwhile.
        current = {key: rollup for key in update.touched if (rollup := self.book.get(key)) is not None}
        if update.unknown:
            loaded = await self._read_back(update.unknown, report)
            self.book.load(loaded)
            current.update(loaded)
            report.read_back = len(loaded)
        lines = [rollup_line(key, current[key]) for key in sorted(current)]
        if lines:
            written = await self.sink.write_report(lines, rp=ROLLUP_POLICY)
            report.written, report.refused = written.written, len(written.rejected)
            if written.rejected:
                log.warning("InfluxDB refused %d rollup point(s) as bad data", len(written.rejected))
        self.book.evict()
        return report

    async def _read_back(self, keys: set[MinuteKey], report: RollupReport) -> dict[MinuteKey, MinuteRollup]:
        found: dict[MinuteKey, MinuteRollup] = {}
        refused: list[MinuteKey] = []
        for query in read_backs(keys):
            wanted = {key for key in keys if key[1] in query.sessions}
            try:
                series = await self._query(raw_points_query(self.reader.db, query))
            except RuntimeError as exc:  # an InfluxQL error answer: not worth retrying
                refused.extend(wanted)
                reason = "not authorized" if "authoriz" in str(exc) else "InfluxQL error"
                log.warning("InfluxDB refused to read back raw vitals for the rollups (%s)", reason)
                continue
            found.update(rollups_from_series(series, wanted))
        if refused:
            report.unread = len(refused)
            since = datetime.fromtimestamp(min(key[2] for key in refused) / 1000, UTC)
            log.warning(
                "%d rollup minute(s) not written; `ivigwatch influx backfill --since %s` rebuilds them "
                "(the writer needs the reader login, IVIGWATCH_INFLUX_READ_USERNAME, with READ)",
                len(refused),
                since.isoformat(),
            )
        return found

    async def _query(self, influxql: str) -> list[dict[str, object]]:
        """One read-back, retried with the sink's backoff while InfluxDB is unreachable."""
        series, _ = await self.sink.retrying(
            lambda: self.reader.query(influxql, write=True),  # POST: a long statement
            "rollup read-back held",
        )
        return series

    async def close(self) -> None:
        await self.reader.close()
