"""The caseload board on the real stack (the console in-process, as test_console_api's fixture starts
it): events produced to ivig.events.v1 reach /api/board/stream as the patient's row (phase, rate,
vitals freshness on the care schedule), the rules worker's incident joins it, and a new reading
moves it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.infra.kafka.topics import EVENTS_TOPIC
from tests.integration.conftest import Live, as_message, event, new_patient, produce
from tests.integration.test_console_api import (  # noqa: F401 - `console` is a fixture
    Console,
    Stream,
    anaphylaxis,
    console,
)

pytestmark = pytest.mark.integration


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def row_until(stream: Stream, patient: str, predicate: Any, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        name, data = await stream.next(max(deadline - time.monotonic(), 0.01))
        if name in ("snapshot", "board"):
            row = next((r for r in data["rows"] if r["patient_id"] == patient), None)
            if row is not None and predicate(row):
                return dict(row)


async def test_events_in_the_board_out_live(console: Console, live: Live) -> None:  # noqa: F811 - the fixture
    patient = new_patient()
    events = anaphylaxis(patient)
    start = when(events[3]["ts"])
    assert start is not None
    async with console.http.get("/api/board/stream") as response:
        stream = Stream(response)
        name, first = await stream.next(10)
        assert name == "snapshot" and patient not in {r["patient_id"] for r in first["rows"]}
        started = time.monotonic()
        await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in events])
        row = await row_until(
            stream, patient, lambda r: any("anaphylaxis" in i["conditions"] for i in r["incidents"])
        )
        print(f"produce -> board with the incident: {time.monotonic() - started:.2f} s")
        assert (row["phase"], row["rate_ml_per_h"], row["product"]) == ("infusing", 40, "Privigen")
        assert when(row["last_vitals"]) == when(events[2]["ts"])
        # the set 15 min after the start is the next one (the readings before the start count for
        # the set at the start)
        assert (row["next_vitals_set"], when(row["next_vitals_due"])) == (
            "after-start",
            start + timedelta(minutes=15),
        )
        assert any(
            i["severity"] == "critical" and i["needs_look"]
            for i in row["incidents"]
            if "anaphylaxis" in i["conditions"]
        )
        assert row["tier"] == 0 and row["owner"] is None

        reading = event(patient, 17, type="vitals", heart_rate=90, systolic_bp=118, diastolic_bp=76)
        await produce(live.settings, EVENTS_TOPIC, [as_message(reading)])
        moved = await row_until(stream, patient, lambda r: when(r["last_vitals"]) == when(reading["ts"]))
        # it counts for every set due so far: the next is the hourly one after the start
        assert (moved["next_vitals_set"], when(moved["next_vitals_due"])) == (
            "steady",
            start + timedelta(minutes=60),
        )

    listed = (await (await console.http.get("/api/board")).json())["rows"]
    assert next(r for r in listed if r["patient_id"] == patient)["next_vitals_set"] == "steady"
