"""Import a recorded JSONL file into InfluxDB without Kafka: its events, its nurse actions and the
alerts the rules give it (the same points the writer worker stores), for analysts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models.events import NurseAction
from models.ruleset import RuleSet
from streams.apps.replay import LineError, read_lines, replay
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.influx_schema import backfill_rollups
from streams.infra.sinks.influx.line_protocol import action_point, alert_point, event_point, to_line

BATCH_LINES = 5000


@dataclass
class ImportSummary:
    events: int = 0
    actions: int = 0
    alerts: int = 0
    bad_lines: list[LineError] = field(default_factory=list)
    rollup_points: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def saw(self, ts: datetime) -> None:
        self.first = ts if self.first is None else min(self.first, ts)
        self.last = ts if self.last is None else max(self.last, ts)


def points_of(
    lines: list[str], rules: RuleSet, until: datetime | None = None
) -> tuple[list[str], ImportSummary]:
    """Line protocol for every valid event and nurse action, and for every alert message the replay
    of the file gives; the summary counts them and keeps each bad line's number and reason."""
    summary = ImportSummary()
    out: list[str] = []
    for item in read_lines(lines):
        if isinstance(item, LineError):
            summary.bad_lines.append(item)
            continue
        summary.saw(item.ts)
        if isinstance(item, NurseAction):
            summary.actions += 1
            out.append(to_line(action_point(item)))
        else:
            summary.events += 1
            out.append(to_line(event_point(item)))
    for alert in replay(lines, rules, until=until):
        if isinstance(alert, LineError):
            continue
        summary.alerts += 1
        summary.saw(alert.ts)
        out.append(to_line(alert_point(alert)))
    return out, summary


async def import_lines(
    client: InfluxClient,
    lines: Iterable[str],
    rules: RuleSet,
    *,
    until: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    backfill: Settings | None = None,
) -> ImportSummary:
    """Write the file's points in batches (idempotent: a re-import overwrites the same points); with
    `backfill` settings, also rebuild the vitals rollups of the imported period."""
    text = list(lines)
    points, summary = points_of(text, rules, until)
    for start in range(0, len(points), BATCH_LINES):
        batch = points[start : start + BATCH_LINES]
        report = await client.write_once(batch)
        if report.rejected:
            summary.bad_lines.extend(
                LineError(0, f"InfluxDB refused a point: {why}") for _, why in report.rejected
            )
        if progress is not None:
            progress(min(start + BATCH_LINES, len(points)), len(points))
    if backfill is not None and summary.first is not None and summary.last is not None:
        # the writer worker computes the rollups of what it writes: the imported period's are made here
        summary.rollup_points = await backfill_rollups(
            client, backfill, summary.first, summary.last + timedelta(minutes=1)
        )
    return summary
