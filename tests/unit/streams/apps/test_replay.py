"""Replay of recorded files with their arrival times: the same bound as the live worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.rules.loader import load_rules
from models.alerts import Alert
from streams.apps.replay import LineError, replay
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.sinks.influx.line_protocol import line_for

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
RULES = load_rules()


def stamp(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def line(patient: str, minutes: float, received: float | None = None, **fields: Any) -> str:
    item = {
        "patient_id": patient,
        "session_id": f"{patient}-s1",
        "ts": stamp(T0 + timedelta(minutes=minutes)),
    }
    if received is not None:
        item["received_ts"] = stamp(T0 + timedelta(minutes=received))
    return json.dumps({**item, **fields})


def infusing_then_silent() -> list[str]:
    # the reading before the start is the care schedule's first set: nothing is due until the set
    # 15 minutes after the start
    return [
        line("pt-a", -1, -1, type="vitals", heart_rate=72, spo2=97),
        line("pt-a", 0, 0, type="infusion", action="start", rate_ml_per_h=50),
    ]


def test_a_line_timed_far_ahead_of_its_arrival_is_refused_and_moves_no_timer() -> None:
    lines = [*infusing_then_silent(), line("pt-b", 60, received=2, type="vitals", spo2=97)]
    out = list(replay(lines, RULES))
    errors = [o for o in out if isinstance(o, LineError)]
    assert [(e.line_no, e.reason) for e in errors] == [
        (3, "(ts): timed more than 5 min ahead of its arrival [ts_ahead_of_arrival]")
    ]
    assert [a for a in out if isinstance(a, Alert)] == []  # pt-a's stale-data timer is not due yet


def test_without_arrival_times_a_file_keeps_its_own_clock() -> None:
    lines = [*infusing_then_silent(), line("pt-b", 60, type="vitals", spo2=97)]
    alerts = [a for a in replay(lines, RULES) if isinstance(a, Alert)]
    assert ("pt-a", "stale_data") in {(a.patient_id, a.condition.value) for a in alerts}


def test_late_lines_are_evaluated() -> None:
    lines = [line("pt-c", 0, received=120, type="vitals", spo2=88)]
    alerts = [a for a in replay(lines, RULES) if isinstance(a, Alert)]
    assert alerts and alerts[0].ts == T0 and alerts[0].condition.value == "hypoxemia"


def test_the_writer_skips_what_the_rules_refuse() -> None:
    raw = line("pt-d", 60, type="vitals", spo2=97).encode()
    skew = timedelta(minutes=5)
    assert line_for(EVENTS_TOPIC, raw, b"pt-d", T0, skew) is None
    assert line_for(EVENTS_TOPIC, raw, b"pt-d", T0 + timedelta(minutes=58), skew) is not None
    assert line_for(EVENTS_TOPIC, raw, b"pt-d") is not None  # simulated clock: no bound
