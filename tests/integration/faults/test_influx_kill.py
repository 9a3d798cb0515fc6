"""InfluxDB killed with -9 under load: every point it acknowledged is there after its restart.

The requirement: no change may let InfluxDB acknowledge a point it can lose in a crash. While the
writer takes a steady load of vitals readings from Kafka (about 250/s) and the test itself writes
readings straight to InfluxDB through the project's client (about 200/s), influxd is killed with
SIGKILL, and once the writer holds a batch for it and a direct write has failed, it is started again
on the same meta, data and WAL dirs. Acknowledged points are:

1. the points of every direct write InfluxDB answered with success (HTTP 204);
2. the points of every event below the writer group's committed offsets read right after the kill:
   the writer commits an offset only once InfluxDB acknowledged the batch holding its event, and
   InfluxDB is dead from the kill to the restart, so no offset read then covers an unanswered write.

Each is looked up by its exact key (measurement, tag set, millisecond timestamp) as soon as
InfluxDB is back, before the writer has caught up, and again at the end. Then the writer catches up
and the readings that came through Kafka are exactly the points the produced events map to, one
each: none missing, none extra.

A kill -9 ends the process, not the machine: what influxd wrote to its WAL but did not fsync yet is
still in the page cache and survives. So the test catches an acknowledgement given before the WAL
write (or a point lost in InfluxDB's restart or WAL replay), not a missing fsync; the config test
(tests/unit/deploy/test_configs.py) holds `wal-fsync-delay` at 0s for that. Tried by hand: cutting
the newest WAL segment's last 64 KB between the kill and the restart makes this test fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from deploy import local_influx
from deploy.processes import log_tail
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from streams.infra.sinks.influx.line_protocol import line_for
from tests.integration.faults.conftest import WRITER_TOPICS, point_key, wait_lag_zero
from tests.integration.faults.io_support import Load, Stack, fault_stack, log_lines

pytestmark = pytest.mark.integration

STEADY_PATIENTS, TICK_SECONDS = 50, 0.2
"""Through Kafka: 50 steady patients and one new trigger patient every 0.2 s, about 255 readings/s."""
DIRECT_PATIENTS, DIRECT_EVERY_SECONDS = 20, 0.1
"""Straight to InfluxDB: one reading of each of 20 patients per write, 10 writes/s."""
COMMITTED_BEFORE_KILL = 2000
"""Events the writer must have committed before the kill (the check of offsets is not vacuous)."""
DIRECT_BEFORE_KILL = 40
"""Direct writes acknowledged before the kill."""
AFTER_RESTART = 750
"""Readings produced, and direct writes x 20 acknowledged, after the restart before the load stops."""
WAIT_SECONDS = 90.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Key = tuple[str, str]
"""(series key: measurement and tags, millisecond timestamp): a point's identity in InfluxDB."""


def quiet(line: str) -> None:
    del line


def note(text: str) -> None:
    print(f"[influx-kill {time.monotonic():.1f}] {text}", flush=True)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # No rule worker: the writer alone reads the events. A 2 s backoff cap: it retries soon after
    # InfluxDB is back.
    with fault_stack(tmp_path, roles=("writer",), writer_max_backoff_seconds=2.0) as started:
        yield started


@dataclass
class DirectWrites:
    """Readings written straight to InfluxDB as the writer user, each batch once; a batch whose
    write returned success is acknowledged, its points recorded by key."""

    settings: Settings
    prefix: str = field(default_factory=lambda: f"kd{uuid.uuid4().hex[:6]}")
    attempted: set[Key] = field(default_factory=set)
    acked: set[Key] = field(default_factory=set)
    acked_batches: int = 0
    failed_batches: int = 0
    errors: list[str] = field(default_factory=list)
    _last_ms: int = 0

    def batch(self) -> list[str]:
        """One reading of each direct patient, all at one millisecond after the previous batch's."""
        self._last_ms = max(self._last_ms + 1, time.time_ns() // 1_000_000)
        ts = (EPOCH + timedelta(milliseconds=self._last_ms)).isoformat(timespec="milliseconds")
        lines = []
        for n in range(DIRECT_PATIENTS):
            patient = f"{self.prefix}-dw{n}"
            event = {
                "type": "vitals",
                "patient_id": patient,
                "session_id": f"{patient}-s1",
                "ts": ts.replace("+00:00", "Z"),
                "spo2": 94 + n % 5,
                "heart_rate": 70 + self._last_ms % 7,
            }
            text = line_for(EVENTS_TOPIC, json.dumps(event).encode(), patient.encode())
            assert text is not None, f"the writer's encoding refused {event}"
            lines.append(text)
        return lines

    async def run(self, stop: asyncio.Event) -> None:
        async with InfluxClient(self.settings, timeout=5.0) as client:
            while not stop.is_set():
                started = time.monotonic()
                lines = self.batch()
                keys = {point_key(text) for text in lines}
                self.attempted |= keys
                try:
                    report = await client.write_once(lines)
                except InfluxUnavailable as exc:
                    self.failed_batches += 1
                    self.errors.append(str(exc))
                else:
                    assert (report.written, report.rejected) == (len(lines), []), report
                    self.acked |= keys
                    self.acked_batches += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        stop.wait(), max(0.0, DIRECT_EVERY_SECONDS - (time.monotonic() - started))
                    )


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = WAIT_SECONDS) -> float:
    """Poll `check` until it holds; returns the seconds it took (fails after `timeout`)."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < timeout, f"not within {timeout:.0f}s: {what}"
        await asyncio.sleep(0.25)
    return time.monotonic() - began


async def committed_offsets(
    settings: Settings, group: str, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """The offsets `group` has committed on `topics` (a partition it never committed is absent)."""
    wanted = set(topics)
    admin = kafka_clients.admin(settings)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if tp.topic in wanted and meta.offset >= 0}


async def read_records(settings: Settings, topics: Iterable[str]) -> list[ConsumerRecord]:
    """Every record on `topics` now, from the beginning, with its partition and offset."""
    consumer = kafka_clients.consumer(
        settings, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(settings.topic_partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for tp, first in (await consumer.beginning_offsets(parts)).items():
            consumer.seek(tp, first)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + 60
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"could not read {list(topics)} to their end in 60s"
            batch = await consumer.getmany(timeout_ms=500)
            records.extend(r for tp, part in batch.items() for r in part if r.offset < ends[tp])
        return records
    finally:
        await consumer.stop()


def record_key(record: ConsumerRecord) -> Key:
    """The key of the point the writer makes of `record`."""
    text = line_for(record.topic, record.value, record.key)
    assert text is not None, f"the writer would skip {record.topic}[{record.partition}]@{record.offset}"
    return point_key(text)


async def stored_vitals(settings: Settings) -> list[Key]:
    """The key of every point in `vitals`, over all time, as the reader user."""
    influxql = (
        'SELECT "on_oxygen" FROM "vitals" '
        "WHERE time >= '2000-01-01T00:00:00Z' AND time < '2200-01-01T00:00:00Z' GROUP BY *"
    )
    async with InfluxClient(settings, timeout=60.0, role="reader") as client:
        series = await client.query(influxql)
    keys: list[Key] = []
    for s in series:
        tags = "".join(f",{k}={v}" for k, v in sorted(s.get("tags", {}).items()) if v)
        keys.extend((f"{s['name']}{tags}", str(int(row[0]))) for row in s["values"])
    return keys


def evidence(settings: Settings, missing: Iterable[Key]) -> str:
    """For a failure: the missing keys, InfluxDB's config and the logs of the killed and the new influxd."""
    paths = local_influx.InfluxPaths.of(settings.state_dir)
    config = [s.strip() for s in paths.conf.read_text().splitlines() if "wal" in s or "fsync" in s]
    listing = sorted(missing)
    return (
        f"{len(listing)} acknowledged points missing, first: {listing[:10]}\nconfig: {config}\n"
        f"--- killed influxd ({paths.log}.1)\n{log_tail(paths.log.with_name(paths.log.name + '.1'), 30)}\n"
        f"--- restarted influxd ({paths.log})\n{log_tail(paths.log, 30)}"
    )


async def test_influxd_killed_with_9_under_load_keeps_every_point_it_acknowledged(stack: Stack) -> None:
    settings, workers = stack
    writer = workers["writer"]
    writer_pid = writer.process.pid
    load = Load(settings, steady_patients=STEADY_PATIENTS, tick_seconds=TICK_SECONDS)
    direct = DirectWrites(settings)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(load.run(stop)), asyncio.create_task(direct.run(stop))]
    try:

        async def loaded() -> bool:
            assert not any(t.done() for t in tasks), "a load generator stopped early"
            offsets = await committed_offsets(settings, settings.writer_app_id, [EVENTS_TOPIC])
            return (
                sum(offsets.values()) >= COMMITTED_BEFORE_KILL and direct.acked_batches >= DIRECT_BEFORE_KILL
            )

        warmed = await wait_until("the writer committing events and direct writes acknowledged", loaded)
        held_before = len(log_lines(writer, "lines held"))
        load.phase = "down"
        old_pid = await asyncio.to_thread(local_influx.kill, settings, quiet)
        killed = time.monotonic()
        assert old_pid is not None, "InfluxDB was not running"
        at_kill = await committed_offsets(settings, settings.writer_app_id, WRITER_TOPICS)
        direct_acked_at_kill, direct_failed_at_kill = len(direct.acked), direct.failed_batches

        async def both_refused() -> bool:
            held = len(log_lines(writer, "lines held")) > held_before
            return held and direct.failed_batches > direct_failed_at_kill

        # InfluxDB stays dead until the writer holds a batch for it and a direct write failed.
        await wait_until("the writer holding a batch and a direct write failing", both_refused, 30.0)
        new_pid = await asyncio.to_thread(local_influx.ensure_running, settings, quiet)
        down = time.monotonic() - killed
        offsets = {f"{tp.topic}[{tp.partition}]": n for tp, n in sorted(at_kill.items())}
        note(
            f"influxd pid {old_pid} killed -9 after {warmed:.1f}s of load; restarted as pid {new_pid} "
            f"on the same data dir {down:.1f}s after the kill; committed at the kill: {offsets}"
        )
        load.phase = "after"

        # Right after the restart, before the writer has caught up: every acknowledged point is there.
        records = await read_records(settings, WRITER_TOPICS)
        committed_keys = {
            record_key(r) for r in records if r.offset < at_kill.get(TopicPartition(r.topic, r.partition), 0)
        }
        acked_now = set(direct.acked)
        stored_now = set(await stored_vitals(settings))
        lost = (committed_keys | acked_now) - stored_now
        assert not lost, evidence(settings, lost)

        restarted_batches = direct.acked_batches

        async def caught_load() -> bool:
            assert not any(t.done() for t in tasks), "a load generator stopped early"
            return (
                len(load.acked(phase="after")) >= AFTER_RESTART
                and (direct.acked_batches - restarted_batches) * DIRECT_PATIENTS >= AFTER_RESTART
            )

        await wait_until("load after the restart (Kafka readings and direct writes)", caught_load)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)

    lag_zero = await wait_lag_zero(settings, settings.writer_app_id, WRITER_TOPICS, timeout=120)
    records = await read_records(settings, WRITER_TOPICS)
    produced = {record_key(r) for r in records}
    stored_list = await stored_vitals(settings)
    stored = set(stored_list)
    from_direct = {k for k in stored if f",patient_id={direct.prefix}-" in k[0]}
    from_kafka = stored - from_direct
    sent = {
        point_key(text)
        for s in load.acked()
        if (text := line_for(EVENTS_TOPIC, _vitals(s.patient, s.ts), s.patient.encode())) is not None
    }
    note(
        f"writer lag 0 {lag_zero:.1f}s after the load stopped; events {len(records)} "
        f"(committed at the kill {len(committed_keys)}, acked by the broker {len(load.acked())}, "
        f"during the outage {len(load.acked(phase='down'))}, not acked {load.failed}); direct writes "
        f"acknowledged {direct.acked_batches} ({len(direct.acked)} points, {direct_acked_at_kill} before "
        f"the kill), failed {direct.failed_batches} ({direct.errors[:1]}); "
        f"points in vitals {len(stored_list)}"
    )

    # The checks are not vacuous: the kill came under load, and writes failed while InfluxDB was dead.
    assert len(committed_keys) >= COMMITTED_BEFORE_KILL
    assert direct_acked_at_kill >= DIRECT_BEFORE_KILL * DIRECT_PATIENTS
    assert load.acked(phase="down"), "no reading was produced while InfluxDB was down"
    assert len(produced) == len(records), "two events map to one point: one point per event is uncheckable"
    assert sent <= produced, "an event the broker acknowledged is not on the topic"

    lost = (committed_keys | direct.acked) - stored
    assert not lost, evidence(settings, lost)
    assert len(stored_list) == len(stored), "InfluxDB returned one key twice"
    assert from_direct <= direct.attempted, "points of direct writes nobody made"
    assert from_kafka == produced, (
        f"readings through Kafka: {len(produced - from_kafka)} events without a point "
        f"{sorted(produced - from_kafka)[:5]}, {len(from_kafka - produced)} points without an event "
        f"{sorted(from_kafka - produced)[:5]}"
    )
    assert writer.process.pid == writer_pid and writer.process.poll() is None, "the writer died"
    assert log_lines(writer, "InfluxDB is back"), "the writer never wrote the batch it held"


def _vitals(patient: str, ts: str) -> bytes:
    """The fields of a Load reading that make its point's key (values do not)."""
    return json.dumps(
        {"type": "vitals", "patient_id": patient, "session_id": f"{patient}-s1", "ts": ts, "spo2": 97}
    ).encode()
