"""The pipeline watchdog on real servers: a frozen rule worker (SIGSTOP) under steady load raises one
critical `pipeline_stalled`; a restarted watchdog keeps it open without firing again; SIGCONT resolves
it once, after the backlog was processed; the pager bridge pages it once; the writer stores both
messages in InfluxDB.

A stack of its own (Kafka, InfluxDB, rules, writer and pager workers, the watchdog with small limits:
sampled every 1 s, stall 5 s, unanswered 5 s), a webhook in a thread, and one steady producer of
ordinary vital signs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from deploy.processes import free_port
from deploy.workers import WorkerProcess, start_watchdog, stop_worker, wait_healthy
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import Collector, local_settings, running_stack, wait_for_points
from tests.integration.faults.conftest import group_lag, wait_lag_zero

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

STALLED = "pipeline_stalled"
RATE = 25.0  # events per second, spread over 50 patients


class Webhook:
    """The pager service's stand-in, in a thread of its own: records each page's JSON body."""

    def __init__(self) -> None:
        pages: list[dict[str, Any]] = []
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                pages.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/page"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paged(self, alert_id: str) -> list[dict[str, Any]]:
        return [p["alert"] for p in list(self.pages) if p["alert"]["alert_id"] == alert_id]


@dataclass
class Rig:
    settings: Settings
    rules: WorkerProcess
    watchdog: WorkerProcess
    webhook: Webhook


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    settings = local_settings(
        Path(tmp_path_factory.mktemp("watchdog")),
        influx_db="ivigwatch_watchdog",
        topic_partitions=4,
        tick_seconds=1.0,
        checkpoint_seconds=1.0,  # an event's commit waits for a checkpoint: within the 2 s "caught up"
        watchdog_interval_seconds=1.0,
        watchdog_stall_seconds=5.0,
        watchdog_unanswered_seconds=5.0,
        watchdog_web_port=free_port(),
        pager_web_port=free_port(),
        pager_timeout_seconds=2.0,
    )
    webhook = Webhook()
    settings = settings.model_copy(update={"pager_webhook_url": webhook.url})
    try:
        with running_stack(settings, ("rules", "writer", "pager")) as workers:
            rig = Rig(settings, workers["rules"], start_watchdog(settings), webhook)
            try:
                wait_healthy(rig.watchdog, timeout=60)
                yield rig
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rig.rules.process.pid, signal.SIGCONT)
                stop_worker(rig.watchdog)
    finally:
        webhook.stop()


class Load:
    """Ordinary vital signs of 50 patients at a steady rate, until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sent = 0
        self.patients = [f"pt-wd-{uuid.uuid4().hex[:6]}-{i}" for i in range(50)]
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        producer = kafka_clients.producer(self.settings, linger_ms=5)
        await producer.start()
        try:
            began = time.monotonic()
            while True:
                patient = self.patients[self.sent % len(self.patients)]
                reading = {
                    "type": "vitals",
                    "patient_id": patient,
                    "session_id": f"{patient}-s1",
                    "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "heart_rate": 72,
                    "spo2": 98,
                }
                await producer.send(EVENTS_TOPIC, json.dumps(reading).encode(), key=patient.encode())
                self.sent += 1
                await asyncio.sleep(max(0.0, began + self.sent / RATE - time.monotonic()))
        finally:
            await producer.stop()


@contextlib.asynccontextmanager
async def steady_load(settings: Settings) -> AsyncIterator[Load]:
    load = Load(settings)
    load.task = asyncio.create_task(load.run())
    try:
        yield load
    finally:
        load.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load.task


def stalled(status: str) -> Any:
    return lambda m: m["condition"] == STALLED and m["status"] == status


def rules_events_processed(rig: Rig) -> int:
    return int((rig.rules.health() or {}).get("counts", {}).get("events", 0))


async def test_frozen_rule_worker_fires_once_survives_a_watchdog_restart_and_resolves_once(rig: Rig) -> None:
    collector = Collector(rig.settings)
    await collector.start()
    try:
        async with steady_load(rig.settings) as load:
            # A healthy pipeline under load raises nothing.
            calm = await collector.wait_for(ALERTS_TOPIC, stalled("firing"), timeout=3)
            assert calm == [], "pipeline_stalled fired while the rule worker kept up"

            frozen_at = time.monotonic()
            os.kill(rig.rules.process.pid, signal.SIGSTOP)
            fired = await collector.wait_for(ALERTS_TOPIC, stalled("firing"), timeout=40)
            assert fired, f"no pipeline_stalled within 40 s of SIGSTOP:\n{rig.watchdog.log_tail()}"
            detect_seconds = time.monotonic() - frozen_at
            alert = fired[0]
            assert alert["alert_id"] == "-:pipeline_stalled:1"
            assert (alert["patient_id"], alert["session_id"], alert["severity"]) == ("-", "-", "critical")
            summary = alert["evidence"]["summary"]
            assert rig.settings.rules_app_id in summary or rig.rules.health_url in summary, summary
            assert alert["evidence"]["values"]["lag_events"] > 0
            assert "Alerts may be missing" in alert["action"]
            for _ in range(120):  # up to 30 s
                if rig.webhook.paged(alert["alert_id"]):
                    break
                await asyncio.sleep(0.25)
            assert rig.webhook.paged(alert["alert_id"]), "the pager bridge did not page pipeline_stalled"

            # A watchdog restarted while the alert is open neither fires again nor renumbers it.
            await asyncio.to_thread(stop_worker, rig.watchdog)
            rig.watchdog = start_watchdog(rig.settings)
            health = await asyncio.to_thread(wait_healthy, rig.watchdog, 60)
            assert health["alert"]["alert_id"] == "-:pipeline_stalled:1"
            await asyncio.sleep(rig.settings.watchdog_stall_seconds + 2)
            assert len([m for m in collector.seen[ALERTS_TOPIC] if m["condition"] == STALLED]) == 1

            sent_while_frozen = load.sent
            os.kill(rig.rules.process.pid, signal.SIGCONT)
            thawed_at = time.monotonic()
            resolved = await collector.wait_for(ALERTS_TOPIC, stalled("resolved"), timeout=60)
            if not resolved:  # which partition the rule group left behind (a commit that stopped?)
                lag = await group_lag(rig.settings, rig.settings.rules_app_id, [EVENTS_TOPIC])
                behind = {tp.partition: n for tp, n in lag.items()}
                pytest.fail(
                    f"not resolved within 60 s of SIGCONT ({rules_events_processed(rig)} of {load.sent} "
                    f"events processed; uncommitted per partition {behind}):\n{rig.watchdog.log_tail()}"
                    f"\nrule worker:\n{rig.rules.log_tail(40)}"
                )
            resolve_seconds = time.monotonic() - thawed_at
            processed = rules_events_processed(rig)
            assert resolved[0]["alert_id"] == "-:pipeline_stalled:1"
            assert processed >= sent_while_frozen, "resolved before the backlog was processed"

            await asyncio.sleep(2)  # a storm would show here
        # Nothing lost on the way: every event reached the rules, none skipped after the rejoin
        # (Faust skipped the offsets between its seek and records fetched before it).
        await wait_lag_zero(rig.settings, rig.settings.rules_app_id, [EVENTS_TOPIC], timeout=60)
        counts = (rig.rules.health() or {}).get("counts", {})
        assert counts.get("skipped") == 0, f"events never delivered to the rules: {counts}"
        assert counts.get("events", 0) >= load.sent, f"{counts} for {load.sent} events sent"
        await collector.wait_for(ALERTS_TOPIC, lambda m: False, timeout=1)
        mine = [m for m in collector.seen[ALERTS_TOPIC] if m["condition"] == STALLED]
        assert [(m["alert_id"], m["status"]) for m in mine] == [
            ("-:pipeline_stalled:1", "firing"),
            ("-:pipeline_stalled:1", "resolved"),
        ]
        pages = rig.webhook.paged("-:pipeline_stalled:1")
        assert [(p["status"], p["severity"]) for p in pages] == [("firing", "critical")], "paged once"
        print(
            f"\nwatchdog: fired {detect_seconds:.1f} s after SIGSTOP, resolved {resolve_seconds:.1f} s "
            f"after SIGCONT; {load.sent} events at {RATE:g}/s"
        )
    finally:
        await collector.stop()

    points = await wait_for_points(
        rig.settings,
        f'SELECT "alert_id", "status" FROM "alerts" WHERE "condition" = \'{STALLED}\'',
        count=2,
    )
    assert sorted(row[2] for row in points) == ["firing", "resolved"], points
