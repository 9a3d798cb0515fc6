"""The rules worker's own work per record, in process (no broker): the live bench's workload through
`RulesRuntime.consume` (validation, state load, rules, live cache, due index, message encoding,
checkpoints storing states and acking records) with a dict for the table and topics that
acknowledge at once. What it leaves out is Faust's and aiokafka's share; the live bench has both.

`python -m streams.apps.bench.worker_path [--sessions N] [--rate R] [--seconds S]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.runtime import RulesRuntime
from models.parsing import parse_event
from streams.apps.bench.in_process import Message, Record, RecordStream, bench_runtime
from streams.apps.bench.workload import Pool, mid_infusion_events, reading
from streams.infra.kafka.topics import EVENTS_TOPIC, partition_of
from streams.infra.process_tuning import quieter_garbage_collection


def _records(sessions: int, rate: float, seconds: float, partitions: int = 4) -> tuple[int, list[Record]]:
    """Every session mid-infusion, then `rate` readings/s of event time for `seconds`, round robin
    as the live bench's load generator sends them. Returns the setup records' count and all records."""
    pool = Pool("wp", sessions)
    rng = random.Random(7)  # noqa: S311 - simulation, not security
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    events = [e for i in range(sessions) for e in mid_infusion_events(pool, i, began)]
    setup = len(events)
    count = int(rate * seconds)
    for n in range(count):
        ts = began + timedelta(seconds=1 + n / rate)
        events.append(reading(pool, n % sessions, ts, n + 1, rng, breach_share=0.002))
    offsets = [0] * partitions
    records = []
    for event in events:
        key = event["patient_id"].encode()
        partition = partition_of(key, partitions)  # as the producers place them
        raw = json.dumps(event, separators=(",", ":")).encode()
        records.append(Record(key, raw, Message(EVENTS_TOPIC, partition, offsets[partition])))
        offsets[partition] += 1
    return setup, records


async def _consume(
    runtime: RulesRuntime, records: list[Record], parse: Callable[[bytes], Any]
) -> RecordStream:
    stream = RecordStream(records)
    await runtime.consume(stream, parse, "validate")
    await runtime.checkpoint()
    return stream


def run(
    sessions: int = 10_000, rate: float = 1000.0, seconds: float = 60.0, tune_gc: bool = True
) -> dict[str, float]:
    """µs per record of the setup (new patients) and of the readings that follow."""
    setup_count, records = _records(sessions, rate, seconds)
    if tune_gc:
        quieter_garbage_collection()  # as the worker does
    runtime = bench_runtime()

    acked = 0

    async def main() -> tuple[float, float]:
        nonlocal acked
        began = time.perf_counter()
        acked += (await _consume(runtime, records[:setup_count], parse_event)).acked
        middle = time.perf_counter()
        acked += (await _consume(runtime, records[setup_count:], parse_event)).acked
        return middle - began, time.perf_counter() - middle

    setup_s, readings_s = asyncio.run(main())
    readings = len(records) - setup_count
    result = {
        "sessions": sessions,
        "setup_us_per_record": round(setup_s / setup_count * 1e6, 1),
        "readings_us_per_record": round(readings_s / readings * 1e6, 1),
        "readings_per_s": round(readings / readings_s),
        "alerts": runtime.counts["alerts"],
        "checkpoints": runtime.counts["checkpoints"],
        "acked": acked,
        "stored": len(runtime.table),
    }
    print(
        f"worker path {result['readings_us_per_record']:8.1f} µs/reading  ({result['readings_per_s']:,} "
        f"readings/s; {readings:,} readings over {sessions:,} sessions after a setup of "
        f"{result['setup_us_per_record']:.0f} µs/record; no broker)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.apps.bench.worker_path", description=__doc__)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="readings/s of event time")
    parser.add_argument("--seconds", type=float, default=60.0, help="event-time seconds of readings")
    args = parser.parse_args()
    run(args.sessions, args.rate, args.seconds)


if __name__ == "__main__":
    main()
