"""The live part of `make bench`: a local stack of its own, the rules and writer workers, the load
generator in its own process, stepped open-loop load, the alert probe, lag, points/s, CPU and RSS,
the 10,000-session RSS and the raw consume baseline."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy import local_influx, local_kafka, stack
from deploy.processes import terminate
from deploy.workers import WorkerProcess, start_worker, stop_worker, wait_healthy
from streams.apps.bench import procstat
from streams.apps.bench.kafka_side import AlertProbe, LagMeter, raw_consume_rate
from streams.apps.bench.stats import LagSample, StepSummary, latency_figures, summarise_step
from streams.infra.kafka.topics import ensure_topics
from streams.infra.settings import REPO_ROOT, Settings

Log = Callable[[str], None]
SAMPLE_SECONDS = 2.0


@dataclass
class Plan:
    steps: list[int]
    step_seconds: float
    patients: int
    latency_rate: int
    drain_seconds: float = 90.0
    worker_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of the workers (Faust reads its own settings from env, e.g. PRODUCER_LINGER)."""


@dataclass
class LiveResult:
    steps: list[StepSummary] = field(default_factory=list)
    setup_seconds: float = 0.0
    sessions: int = 0
    sessions_rss_mb: float | None = None
    sessions_drained: bool = False
    sessions_events: int = 0
    """Events the rules worker had taken in when its RSS was read (readings per session = this / sessions)."""
    raw_messages: int = 0
    raw_seconds: float = 0.0
    drain_events: int = 0
    """The backlog the steps left, drained by the rules worker at full speed once the load stopped."""
    drain_seconds: float = 0.0
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    probe_other_alerts: int = 0

    @property
    def raw_rate(self) -> float | None:
        return self.raw_messages / self.raw_seconds if self.raw_seconds > 0 else None

    @property
    def drain_rate(self) -> float | None:
        return self.drain_events / self.drain_seconds if self.drain_seconds > 0 else None


def bench_settings(state_dir: Path) -> Settings:
    """A stack of the bench's own: its state dir and free loopback ports; the rest from the env."""
    return stack.isolated_settings(
        state_dir,
        influx_db="ivigwatch_bench",
        rules_app_id="ivigwatch-bench-rules",
        writer_app_id="ivigwatch-bench-writer",
    )


class Generator:
    """The load generator process, driven one command at a time."""

    def __init__(self, settings: Settings, prefix: str, patients: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.apps.bench.loadgen",
                "--prefix",
                prefix,
                "--patients",
                str(patients),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **settings.to_env()},
        )

    async def command(self, line: str) -> dict[str, Any]:
        if self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("load generator started without pipes")
        self.process.stdin.write(f"{line}\n".encode())
        self.process.stdin.flush()
        answer = await asyncio.to_thread(self.process.stdout.readline)
        if not answer:
            raise RuntimeError(f"load generator exited ({self.process.poll()}) on {line!r}")
        result: dict[str, Any] = json.loads(answer)
        return result

    def stop(self) -> None:
        if self.process.poll() is None and self.process.stdin is not None:
            self.process.stdin.write(b"quit\n")
            self.process.stdin.close()
        terminate(self.process, 10)


class Live:
    def __init__(self, settings: Settings, plan: Plan, log: Log) -> None:
        self.settings, self.plan, self.log = settings, plan, log
        self.prefix = f"bn{int(time.time()) % 100000}"
        self.result = LiveResult()
        self.windows: list[tuple[float, float]] = []
        """Each step's send window (epoch seconds): its readings' alerts belong to it."""

    def pids(self) -> dict[str, int | None]:
        return {
            "rules": self.rules.process.pid,
            "writer": self.writer.process.pid,
            "loadgen": self.generator.process.pid,
            "kafka": local_kafka.running_pid(self.settings),
            "influxdb": local_influx.running_pid(self.settings),
            "bench": os.getpid(),
        }

    def samples(self) -> dict[str, procstat.ProcSample | None]:
        return {name: procstat.sample(pid) if pid else None for name, pid in self.pids().items()}

    async def run(self) -> LiveResult:
        self.log(f"starting Kafka and InfluxDB in {self.settings.state_dir} ...")
        await asyncio.to_thread(stack.up, self.settings, lambda line: None)
        try:
            await ensure_topics(self.settings)
            self.rules = start_worker("rules", self.settings, self.plan.worker_env)
            self.writer = start_worker("writer", self.settings, self.plan.worker_env)
            try:
                for worker in (self.rules, self.writer):
                    await asyncio.to_thread(wait_healthy, worker, 180)
                await self._with_workers()
            finally:
                for worker in (self.rules, self.writer):
                    stop_worker(worker)
            self.log("raw aiokafka consume baseline (getmany + json.loads) ...")
            count, seconds = await raw_consume_rate(self.settings, 20.0, 2_000_000)
            self.result.raw_messages, self.result.raw_seconds = count, round(seconds, 3)
            rate = count / max(seconds, 1e-9)
            self.log(f"  raw consume: {count:,} messages in {seconds:.1f} s = {rate:,.0f} msg/s")
        finally:
            await asyncio.to_thread(stack.down, self.settings, lambda line: None)
        return self.result

    async def _with_workers(self) -> None:
        self.generator = Generator(self.settings, self.prefix, self.plan.patients)
        self.lag = LagMeter(self.settings)
        self.probe = AlertProbe(self.settings, self.prefix)
        await self.lag.start()
        await self.probe.start()
        try:
            self.log(f"setting up {self.plan.patients:,} patients mid-infusion ...")
            answer = await self.generator.command(f"setup {max(self.plan.steps[0], 2000)}")
            self.result.setup_seconds = answer["seconds"]
            await self._drain(2 * self.plan.drain_seconds)  # six events per patient to take in
            for rate in self.plan.steps:
                step = await self._step(rate)
                self.result.steps.append(step)
                self.log(_progress(step))
                if not step.flat and rate >= self.plan.latency_rate:
                    self.log("  lag grows: higher steps would only add backlog; stepping stops here")
                    break
            self.generator.stop()
            self.result.sessions_drained = await self._drain_backlog()
            health = self.rules.health(timeout=5.0) or {}
            counts = health.get("counts", {})
            self.result.sessions = int(counts.get("new_patients", 0))
            self.result.sessions_events = int(counts.get("events", 0))
            await asyncio.sleep(2.0)  # the last alerts reach the probe
            for step, (began, ended) in zip(self.result.steps, self.windows, strict=True):
                latencies = self.probe.between(began, ended)  # late alerts of a lagging step count too
                step.alerts, step.latency_ms = len(latencies), latency_figures(latencies)
            sample = procstat.sample(self.rules.process.pid)
            self.result.sessions_rss_mb = None if sample is None else sample.rss_mb
            self.log(
                f"rules worker holding {self.result.sessions:,} of {self.plan.patients:,} sessions: "
                f"RSS {self.result.sessions_rss_mb} MB after {self.result.sessions_events:,} events"
            )
            self.result.peak_rss_mb = {n: s.peak_rss_mb for n, s in self.samples().items() if s}
            self.result.probe_other_alerts = self.probe.other
        finally:
            self.generator.stop()
            await self.probe.stop()
            await self.lag.stop()

    async def _drain_backlog(self) -> bool:
        """Drain what the steps left behind, timed: the rules worker's rate at full speed."""
        backlog = await self.lag.end() - await self.lag.committed(self.settings.rules_app_id)
        began = time.monotonic()
        drained = await self._drain()
        seconds = time.monotonic() - began
        if drained and backlog > 0:
            self.result.drain_events, self.result.drain_seconds = backlog, round(seconds, 2)
            self.log(
                f"drained the {backlog:,} events left behind in {seconds:.1f} s = {backlog / seconds:,.0f}/s "
                "(its commits trail by up to a checkpoint and a commit interval)"
            )
        return drained

    async def _drain(self, seconds: float | None = None) -> bool:
        """Wait until the rules worker has committed every event (or the drain deadline passes)."""
        seconds = self.plan.drain_seconds if seconds is None else seconds
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if await self.lag.end() - await self.lag.committed(self.settings.rules_app_id) <= 0:
                return True
            await asyncio.sleep(1.0)
        self.log(f"  rules worker still behind after {seconds:.0f} s")
        return False

    async def _step(self, rate: int) -> StepSummary:
        rules_group, writer_group = self.settings.rules_app_id, self.settings.writer_app_id
        before = self.samples()
        end0, done0 = await self.lag.end(), await self.lag.committed(rules_group)
        lines0 = _lines(self.writer)
        began, wall0 = time.monotonic(), time.time()
        running = asyncio.create_task(self.generator.command(f"rate {rate} {self.plan.step_seconds}"))
        lag: list[LagSample] = []
        writer_lag: list[LagSample] = []
        while not running.done():
            await asyncio.sleep(SAMPLE_SECONDS)
            end, at = await self.lag.end(), time.monotonic() - began
            lag.append(LagSample(at, end - await self.lag.committed(rules_group)))
            writer_lag.append(LagSample(at, end - await self.lag.committed(writer_group)))
        answer = await running
        seconds, wall1 = time.monotonic() - began, time.time()
        after = self.samples()
        summary = summarise_step(
            rate,
            seconds,
            sent=await self.lag.end() - end0,
            processed=await self.lag.committed(rules_group) - done0,
            written_points=_lines(self.writer) - lines0,
            lag=lag,
            writer_lag=writer_lag,
            latencies_ms=self.probe.between(wall0, wall1),
        )
        self.windows.append((wall0, wall1))
        summary.cpu_percent = {n: procstat.cpu_percent(before[n], after[n], seconds) for n in after}
        summary.rss_mb = {n: s.rss_mb for n, s in after.items() if s}
        del answer
        return summary


def _lines(writer: WorkerProcess) -> int:
    health = writer.health(timeout=5.0) or {}
    return int(health.get("counts", {}).get("lines", 0))


def _progress(step: StepSummary) -> str:
    p = step.latency_ms

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    return (
        f"  step {step.target_rate:>6,}/s: sent {step.offered_rate:>8,.0f}/s, "
        f"rules {step.processed_rate:>8,.0f}/s, lag end {step.lag_end:>8,.0f} "
        f"({'flat' if step.flat else 'GROWING'}), points {step.points_rate:>7,.0f}/s, "
        f"alerts {step.alerts} p50/p95/p99 {fmt(p['p50'])}/{fmt(p['p95'])}/{fmt(p['p99'])} ms, "
        f"cpu rules {step.cpu_percent.get('rules', 0):.0f}% writer {step.cpu_percent.get('writer', 0):.0f}% "
        f"kafka {step.cpu_percent.get('kafka', 0):.0f}% influx {step.cpu_percent.get('influxdb', 0):.0f}% "
        f"loadgen {step.cpu_percent.get('loadgen', 0):.0f}%"
    )


def run_live(plan: Plan, log: Log) -> LiveResult:
    state_dir = REPO_ROOT / ".local" / "bench" / time.strftime("%Y%m%dT%H%M%S")
    settings = bench_settings(state_dir)
    try:
        return asyncio.run(Live(settings, plan, log).run())
    finally:
        logs = REPO_ROOT / "bench-results" / f"logs-{state_dir.name}"
        shutil.copytree(state_dir / "logs", logs, dirs_exist_ok=True)  # the workers' and servers' logs
        shutil.rmtree(state_dir, ignore_errors=True)
