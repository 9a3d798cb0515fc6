"""The gateway while the broker is down: it answers 503 (never 200 for events Kafka did not store),
and the device's retry once the broker is back stores every event exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from deploy import local_kafka
from models.credentials import CredentialKind
from streams.apps.gateway.gateway_app import running_gateway
from streams.infra.credential_store import CredentialStore
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import local_settings, running_stack
from tests.integration.faults.conftest import read_topic

pytestmark = pytest.mark.integration
PATIENT = "pt-gw-down"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    configured = local_settings(tmp_path / "stack", topic_partitions=2)
    with running_stack(configured, ()):
        yield configured


def batch(first: int, count: int) -> list[dict[str, Any]]:
    ts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return [
        {
            "type": "vitals",
            "event_id": f"cuff-{n}",
            "session_id": f"{PATIENT}-s1",
            "ts": ts,
            "heart_rate": 60 + n,
        }
        for n in range(first, first + count)
    ]


async def test_a_batch_sent_while_the_broker_is_down_is_refused_then_stored_once(
    settings: Settings, tmp_path: Path
) -> None:
    store = CredentialStore(tmp_path / "gateway" / "credentials.json")
    _, token = store.issue(PATIENT, CredentialKind.DEVICE, "cuff", datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    async with running_gateway(settings, "127.0.0.1", 0, store=store) as url, aiohttp.ClientSession() as http:

        async def post(body: object) -> tuple[int, dict[str, Any]]:
            async with http.post(f"{url}/v1/events", json=body, headers=headers) as response:
                return response.status, await response.json(content_type=None)

        assert await post(batch(0, 3)) == (200, {"accepted": 3, "duplicates": 0})
        await asyncio.to_thread(local_kafka.stop, settings, lambda line: None)
        status, problem = await post(batch(3, 4))
        assert status == 503 and problem["type"].endswith("/unavailable"), problem
        await asyncio.to_thread(local_kafka.ensure_running, settings, lambda line: None)
        deadline = time.monotonic() + 120
        while True:  # the device retries the same batch until it is taken
            status, answer = await post(batch(3, 4))
            if status == 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        assert status == 200 and answer["accepted"] + answer["duplicates"] == 4, answer
    values = [json.loads(v) for v in await read_topic(settings, EVENTS_TOPIC)]
    ids = sorted(v["event_id"] for v in values if v["patient_id"] == PATIENT)
    assert ids == sorted(f"cuff-{n}" for n in range(7)), "an event was lost or stored twice"
