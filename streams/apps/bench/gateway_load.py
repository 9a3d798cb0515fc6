"""`make bench`'s gateway figure: a few thousand simulated devices upload batches of readings to
`ivigwatch gateway` (its own process) on a stack of its own; accepted events/s and the accept
latency (request sent to `200`, which the gateway answers only once the broker stored the batch).

Closed loop: `concurrency` uploads in flight at any time, each from the next device in turn (so no
device comes near its rate limit), for `seconds`. The client runs in the bench's process on the
same cores as the gateway and the broker: the figure is the box's, not the gateway's alone.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from deploy import local_kafka, stack
from deploy.processes import free_port, port_open, terminate
from deploy.workers import spawn_cli
from models.credentials import CredentialKind
from streams.apps.bench import procstat
from streams.apps.bench.live import bench_settings
from streams.infra.credential_store import CredentialStore, credential_path
from streams.infra.kafka.topics import ensure_topics
from streams.infra.settings import REPO_ROOT, Settings

Log = Callable[[str], None]
START_SECONDS = 60.0


@dataclass
class GatewayLoad:
    devices: int = 2_000
    batch: int = 10
    concurrency: int = 64
    seconds: float = 20.0


@dataclass
class GatewayFigures:
    devices: int
    batch: int
    concurrency: int
    seconds: float
    requests: int
    events: int
    events_per_s: float
    latency_ms: dict[str, float | None]
    statuses: dict[str, int]
    cpu_percent: dict[str, float | None] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        p = {k: "-" if v is None else f"{v:,.0f}" for k, v in self.latency_ms.items()}
        refused = sum(n for status, n in self.statuses.items() if status != "200")
        cpu = self.cpu_percent
        return (
            f"  gateway: {self.devices:,} devices, batches of {self.batch}, {self.concurrency} in flight: "
            f"{self.events_per_s:,.0f} events/s accepted ({self.requests:,} requests, {refused} refused), "
            f"accept latency p50/p95/p99 {p['p50']}/{p['p95']}/{p['p99']} ms; cpu gateway "
            f"{cpu.get('gateway') or 0:.0f}% kafka {cpu.get('kafka') or 0:.0f}%"
        )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


async def _load(
    url: str, tokens: list[tuple[str, str]], load: GatewayLoad
) -> tuple[list[float], Counter[str]]:
    """Upload batches until `load.seconds` have passed; the latencies (ms) of the accepted ones."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    turn = itertools.count()
    deadline = time.monotonic() + load.seconds

    async def device_uploads(http: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            n = next(turn)
            patient, token = tokens[n % len(tokens)]
            now = datetime.now(UTC)
            batch = [
                {
                    "type": "vitals",
                    "event_id": f"b{n}-{i}",
                    "session_id": f"{patient}-s1",
                    "ts": (now - timedelta(seconds=5 * (load.batch - i))).isoformat().replace("+00:00", "Z"),
                    "heart_rate": 70 + i % 7,
                    "spo2": 97,
                }
                for i in range(load.batch)
            ]
            began = time.perf_counter()
            async with http.post(
                f"{url}/v1/events", json=batch, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                await response.read()
                statuses[str(response.status)] += 1
                if response.status == 200:
                    latencies.append((time.perf_counter() - began) * 1000)

    connector = aiohttp.TCPConnector(limit=load.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(device_uploads(http) for _ in range(load.concurrency)))
    return latencies, statuses


async def _measure(settings: Settings, load: GatewayLoad, log: Log) -> GatewayFigures:
    store = CredentialStore(credential_path(settings.state_dir))
    prefix = f"gw{int(time.time()) % 100000}"
    warm = 50  # devices of the warm-up only: the measured ones start with full rate buckets
    wanted = [(f"{prefix}-{i:05d}", CredentialKind.DEVICE, "bench") for i in range(load.devices + warm)]
    issued = store.issue_many(wanted, datetime.now(UTC))
    tokens = [(credential.patient_id, token) for credential, token in issued]
    port = free_port()
    process, log_path = spawn_cli(["gateway", "--port", str(port)], settings, "gateway")
    try:
        deadline = time.monotonic() + START_SECONDS
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start; see {log_path}")
            await asyncio.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        await _load(url, tokens[load.devices :], GatewayLoad(warm, load.batch, 8, 2.0))  # warm up
        pids = {"gateway": process.pid, "kafka": local_kafka.running_pid(settings)}
        before = {name: procstat.sample(pid) if pid else None for name, pid in pids.items()}
        began = time.monotonic()
        latencies, statuses = await _load(url, tokens[: load.devices], load)
        seconds = time.monotonic() - began
        after = {name: procstat.sample(pid) if pid else None for name, pid in pids.items()}
    finally:
        terminate(process, 10)
    accepted = statuses.get("200", 0)
    return GatewayFigures(
        devices=load.devices,
        batch=load.batch,
        concurrency=load.concurrency,
        seconds=round(seconds, 2),
        requests=sum(statuses.values()),
        events=accepted * load.batch,
        events_per_s=round(accepted * load.batch / seconds, 1),
        latency_ms={
            "p50": _percentile(latencies, 50),
            "p95": _percentile(latencies, 95),
            "p99": _percentile(latencies, 99),
        },
        statuses=dict(statuses),
        cpu_percent={n: procstat.cpu_percent(before[n], after[n], seconds) for n in pids},
    )


def run_gateway_bench(load: GatewayLoad, log: Log) -> GatewayFigures:
    """The gateway figure on a stack of its own (started and stopped here; logs kept)."""
    state_dir = REPO_ROOT / ".local" / "bench" / time.strftime("gateway-%Y%m%dT%H%M%S")
    settings = bench_settings(state_dir)

    async def measured() -> GatewayFigures:
        log(f"starting Kafka in {settings.state_dir} ...")
        await asyncio.to_thread(stack.up, settings, lambda line: None)
        try:
            await ensure_topics(settings)
            return await _measure(settings, load, log)
        finally:
            await asyncio.to_thread(stack.down, settings, lambda line: None)

    try:
        figures = asyncio.run(measured())
    finally:
        shutil.copytree(
            state_dir / "logs", REPO_ROOT / "bench-results" / f"logs-{state_dir.name}", dirs_exist_ok=True
        )
        shutil.rmtree(state_dir, ignore_errors=True)
    log(figures.line())
    return figures
