"""Kafka restarted mid-run: the workers reconnect by themselves and no acked event is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import local_kafka
from streams.infra.kafka.topics import ALERTS_TOPIC, DEADLETTER_TOPIC
from tests.integration.faults.io_support import (
    TRIGGER_CONDITION,
    Load,
    Stack,
    alerts_by_patient,
    expected_counts,
    fault_stack,
    log_lines,
    missing_readings,
    p95,
    unexplained_alerts,
    wait_for_counts,
    watching,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with fault_stack(tmp_path) as started:
        yield started


async def test_workers_reconnect_after_a_broker_restart_and_lose_no_acked_event(stack: Stack) -> None:
    settings, workers = stack
    pids = {role: worker.process.pid for role, worker in workers.items()}
    async with watching(settings) as watch:
        load = Load(settings)
        stop = asyncio.Event()
        producing = asyncio.create_task(load.run(stop))
        await asyncio.sleep(8)
        load.phase = "restart"
        down_at = time.monotonic()
        await asyncio.to_thread(local_kafka.stop, settings, lambda line: None)
        await asyncio.to_thread(local_kafka.ensure_running, settings, lambda line: None)
        up_at, up_wall = time.monotonic(), time.time()
        load.phase = "after"
        await asyncio.sleep(15)
        stop.set()
        await asyncio.wait_for(producing, timeout=120)

        triggers = load.acked(trigger=True)
        found = await watch.wait_for(
            ALERTS_TOPIC,
            lambda m: m["patient_id"].startswith(f"{load.prefix}-tr") and m["condition"] == TRIGGER_CONDITION,
            count=len(triggers),
            timeout=120,
        )
        first = {m["patient_id"]: at for at, m in sorted(found, key=lambda pair: -pair[0])}
        missing = [t.patient for t in triggers if t.patient not in first]
        assert not missing, f"{len(missing)} of {len(triggers)} acked alert-raising readings gave no alert"
        after = [t for t in triggers if t.phase == "after"]
        recovery = min(first[t.patient] for t in after) - up_wall
        latency = {
            p: [first[t.patient] - t.produced_at for t in triggers if t.phase == p]
            for p in ("before", "restart", "after")
        }
        messages = [a for alerts in alerts_by_patient(watch, load.prefix).values() for _, a in alerts]
        kinds = {(a["alert_id"], a["status"], a["page"]) for a in messages}
        print(
            f"\nbroker down->up {up_at - down_at:.1f}s; first post-restart alert {recovery:.1f}s "
            f"after the broker was back; alert latency p95 before {p95(latency['before']):.2f}s, "
            f"during restart {p95(latency['restart']):.2f}s (n={len(latency['restart'])}), "
            f"after {p95(latency['after']):.2f}s; "
            f"acked {len(load.acked())}, not acked {load.failed}; alert messages {len(messages)} "
            f"for {len(kinds)} distinct (alert, status, page)"
        )
        unexplained = unexplained_alerts(watch, load)
        assert not unexplained, (
            f"alerts nobody asked for: {[(a['condition'], a['status']) for a in unexplained]}"
        )
        assert {a["patient_id"] for a in messages} == {t.patient for t in triggers}
        assert len(messages) - len(kinds) <= len(latency["restart"]), "duplicates beyond the restart window"

        expected = expected_counts(load.acked())
        counts = await wait_for_counts(settings, load.prefix, expected, timeout=120)
        if counts != expected:
            why = await missing_readings(settings, load.acked(), counts)
            writer_log = "\n".join(log_lines(workers["writer"], "warn", "error", "rebalanc", "revoked")[-30:])
            short = {p: (counts.get(p, 0), n) for p, n in expected.items() if counts.get(p, 0) != n}
            pytest.fail(
                f"InfluxDB must hold every acked reading exactly once (patient: (points, acked)) {short}:"
                f"\n{why}\nwriter:\n{writer_log}"
            )
        assert not watch.records[DEADLETTER_TOPIC], "a broker restart must dead-letter nothing"
    for role, worker in workers.items():
        assert worker.process.pid == pids[role] and worker.process.poll() is None, f"{role} worker exited"
        assert worker.health() is not None, f"{role} worker does not answer /healthz"
