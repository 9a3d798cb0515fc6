"""The bench's load generator, run in a process of its own (`python -m streams.apps.bench.loadgen`).

Reads commands on stdin, one per line, and answers each on stdout with one JSON line:
`setup` (profile, baseline vitals, start for every patient of the pool), `rate R SECONDS`
(open loop at R readings/s: each event stamped with its send time), `quit`.
Events go to `ivig.events.v1` keyed by patient_id, through `streams.infra.kafka.kafka_clients`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

from streams.apps.bench.workload import Pool, mid_infusion_events, reading
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings

TICK = 0.005
"""The open loop sends what the rate owes every 5 ms."""


class Generator:
    def __init__(self, settings: Settings, pool: Pool, breach_share: float) -> None:
        self.pool = pool
        self.breach_share = breach_share
        self.rng = random.Random(7)  # noqa: S311 - simulation, not security
        self.counter = 0
        self.producer = kafka_clients.producer(
            settings, linger_ms=5, max_batch_size=256 * 1024, acks=1, client_id="ivigwatch-bench-load"
        )

    async def send(self, event: dict[str, Any]) -> None:
        await self.producer.send(
            EVENTS_TOPIC, json.dumps(event, separators=(",", ":")).encode(), key=event["patient_id"].encode()
        )

    async def setup(self, rate: float) -> dict[str, Any]:
        """Every patient of the pool mid-infusion, at most `rate` events/s."""
        began = time.monotonic()
        for index in range(self.pool.size):
            for event in mid_infusion_events(self.pool, index, datetime.now(UTC)):
                await self.send(event)
            if index % 200 == 199:
                await _pace(began, (index + 1) * 6, rate)
        await self.producer.flush()
        return {"setup": self.pool.size, "seconds": round(time.monotonic() - began, 2)}

    async def run(self, rate: float, seconds: float) -> dict[str, Any]:
        """Open loop: at each tick send what the rate owes since the step began."""
        began = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - began) < seconds:
            owed = int(rate * elapsed) - sent
            for _ in range(owed):
                index = self.counter % self.pool.size
                self.counter += 1
                event = reading(
                    self.pool, index, datetime.now(UTC), self.counter, self.rng, self.breach_share
                )
                await self.send(event)
            sent += max(owed, 0)
            await asyncio.sleep(TICK)
        await self.producer.flush()
        return {"rate": rate, "sent": sent, "seconds": round(time.monotonic() - began, 3)}


async def _pace(began: float, sent: int, rate: float) -> None:
    ahead = sent / rate - (time.monotonic() - began)
    if ahead > 0:
        await asyncio.sleep(ahead)


async def main_async(args: argparse.Namespace) -> None:
    generator = Generator(Settings(), Pool(args.prefix, args.patients), args.breach_share)
    await generator.producer.start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "setup":
                answer = await generator.setup(float(words[1]))
            else:
                answer = await generator.run(float(words[1]), float(words[2]))
            print(json.dumps(answer), flush=True)
    finally:
        await generator.producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--breach-share", type=float, default=0.01)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
