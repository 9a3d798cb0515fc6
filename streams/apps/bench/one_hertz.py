"""The rules worker over continuously monitored patients, in process (no broker): every session
mid-infusion, then a worn pulse oximeter once a second each (and a cuff every 15 minutes) for
`minutes` of event time, through `RulesRuntime.consume` as in `worker_path` (validation, state
loads, live cache, rules, checkpoints storing states). Per `every` minutes of event time: CPU µs
per reading, the process's RSS, the stored states' size and the live states. Flat figures mean an
event costs the same, and a patient the same memory, however long its session has run.

`python -m streams.apps.bench.one_hertz [--sessions N] [--minutes M]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.runtime import RulesRuntime
from models.parsing import parse_event
from streams.apps.bench.in_process import Message, Record, RecordStream, bench_runtime
from streams.apps.bench.workload import Pool, continuous_reading, mid_infusion_events, reading
from streams.infra.kafka.topics import EVENTS_TOPIC, partition_of
from streams.infra.process_tuning import quieter_garbage_collection

PARTITIONS = 4


@dataclass(frozen=True, slots=True)
class Mark:
    minute: int
    cpu_us_per_reading: float
    rss_mb: float
    stored_mb: float
    """The table's JSON (the state store's share of RSS)."""
    live: int

    def line(self) -> str:
        return (
            f"  minute {self.minute:3d}: {self.cpu_us_per_reading:7.1f} µs/reading (CPU), RSS "
            f"{self.rss_mb:6.0f} MB, stored states {self.stored_mb:6.1f} MB, {self.live:,} live"
        )


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Records:
    """Contract events as the producers send them, with offsets per partition."""

    def __init__(self) -> None:
        self.offsets = [0] * PARTITIONS

    def of(self, events: list[dict[str, object]]) -> Iterator[Record]:
        for event in events:
            key = str(event["patient_id"]).encode()
            partition = partition_of(key, PARTITIONS)
            raw = json.dumps(event, separators=(",", ":")).encode()
            yield Record(key, raw, Message(EVENTS_TOPIC, partition, self.offsets[partition]))
            self.offsets[partition] += 1


def _second(
    pool: Pool, sessions: int, ts: datetime, second: int, rng: random.Random
) -> list[dict[str, object]]:
    events = []
    for i in range(sessions):
        at = ts + timedelta(microseconds=(i * 997) % 1_000_000)
        events.append(continuous_reading(pool, i, at, second, rng))
        if (second + i) % 900 == 0:  # a cuff every 15 minutes, staggered
            cuff = reading(pool, i, at, second, random.Random(i * 31 + second), breach_share=0.0)  # noqa: S311
            if cuff.get("type") == "vitals" and "systolic_bp" in cuff:
                events.append(cuff)
    return events


def run(
    sessions: int = 1_000,
    minutes: int = 30,
    every: int = 5,
    say: Callable[[str], None] = print,
    runtime: RulesRuntime | None = None,
) -> list[Mark]:
    """`runtime`: one of the caller's (a test's; then the collector is left as it is)."""
    if runtime is None:
        quieter_garbage_collection()  # as the worker does
        runtime = bench_runtime()
    pool = Pool("hz", sessions)
    rng = random.Random(11)  # noqa: S311 - simulation, not security
    records = _Records()
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    setup = [e for i in range(sessions) for e in mid_infusion_events(pool, i, began)]
    marks: list[Mark] = []

    async def main() -> None:
        await runtime.consume(RecordStream(records.of(setup)), parse_event, "validate")
        cpu, count = time.process_time(), 0
        for second in range(1, minutes * 60 + 1):
            events = _second(pool, sessions, began + timedelta(seconds=second), second, rng)
            await runtime.consume(RecordStream(records.of(events)), parse_event, "validate")
            count += len(events)
            if second % (every * 60) == 0:
                await runtime.checkpoint()
                now = time.process_time()
                stored = sum(len(v) for v in runtime.table.values()) / 1e6
                mark = Mark(second // 60, (now - cpu) / count * 1e6, _rss_mb(), stored, len(runtime.live))
                marks.append(mark)
                say(mark.line())
                cpu, count = time.process_time(), 0

    say(
        f"1 Hz: {sessions:,} sessions, a worn oximeter each once a second (a cuff every 15 min), "
        f"{minutes} min of event time, in process"
    )
    asyncio.run(main())
    if len(marks) >= 2:
        cost = [m.cpu_us_per_reading for m in marks]
        first, last = marks[0], marks[-1]
        growth = (last.rss_mb - first.rss_mb) / (last.minute - first.minute)
        say(
            f"  {min(cost):.0f}-{max(cost):.0f} µs/reading; RSS {first.rss_mb:.0f} -> {last.rss_mb:.0f} MB "
            f"({growth:+.1f} MB/min after minute {first.minute})"
        )
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.apps.bench.one_hertz", description=__doc__)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--every", type=int, default=5, help="minutes of event time per figure")
    args = parser.parse_args()
    marks = run(args.sessions, args.minutes, args.every)
    print(json.dumps([asdict(m) for m in marks]))


if __name__ == "__main__":
    main()
