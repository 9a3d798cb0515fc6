"""Agent tests: the real Faust app with a memory store, driven through `agent.test_context()`.

`test_context` bypasses Kafka and serialization, so outbound topics are replaced by recorders.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.apps.worker_app import Role, create_app
from streams.infra.settings import Settings


@dataclass
class RecordingTopic:
    """Stands in for a Faust topic: records what was sent, and resolves the delivery at once."""

    sent: list[tuple[bytes | None, bytes]] = field(default_factory=list)

    async def send(self, key: bytes | None = None, value: bytes = b"", **_: Any) -> asyncio.Future[None]:
        self.sent.append((key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", influx_url="http://127.0.0.1:1")


@pytest.fixture
async def rules_app(settings: Settings) -> faust.App:
    app = create_app(Role.RULES, settings, store="memory://")
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    runtime = app.runtime  # type: ignore[attr-defined]
    runtime.alerts_topic = RecordingTopic()
    runtime.deadletter_topic = RecordingTopic()
    runtime.patient_topic = RecordingTopic()
    # No producer runs here: take the changelog partition from the current event instead.
    runtime.table.use_partitioner = False
    return app
