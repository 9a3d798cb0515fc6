"""`make bench`: micro-benchmarks of the hot path, printed as figures (never a pass/fail test).

Measures, in this process and without servers: contract validation (µs/event), the rule engine
over a simulated multi-patient load (events/s), and line-protocol encoding (µs/point). The
end-to-end stepped load against the real broker and InfluxDB is the reliability issue's benchmark.
"""

from __future__ import annotations

import json
import platform
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from agents.rules.engine import new_state, process
from agents.rules.loader import load_rules
from models.events import Event
from models.parsing import parse_event
from models.ruleset import RuleSet
from models.state import PatientState
from streams.lineprotocol import event_point, to_line
from streams.simulator import load_plan


def _events(patients: int) -> list[bytes]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    return [json.dumps(e).encode() for e in load_plan(patients, start, seed=1)]


def _run_rules(events: list[Event], rules: RuleSet) -> tuple[dict[str, PatientState], int, float]:
    states: dict[str, PatientState] = {}
    alerts = 0
    began = time.perf_counter()
    for event in events:
        state = states.get(event.patient_id) or states.setdefault(
            event.patient_id, new_state(event.patient_id)
        )
        alerts += len(process(state, event, event.ts, rules))
    return states, alerts, time.perf_counter() - began


def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu ?'}")
    raw = _events(200)
    print(f"workload: {len(raw):,} simulated events of 200 concurrent home infusions")

    began = time.perf_counter()
    events = [parse_event(r) for r in raw]
    parse_s = time.perf_counter() - began
    print(f"validate   {parse_s / len(raw) * 1e6:8.2f} µs/event  ({len(raw) / parse_s:,.0f} events/s)")

    rules = load_rules()
    states, alerts, engine_s = _run_rules(events, rules)
    print(
        f"rules      {engine_s / len(raw) * 1e6:8.2f} µs/event  ({len(raw) / engine_s:,.0f} events/s, "
        f"{alerts} alert messages)"
    )
    tracemalloc.start()
    _run_rules(events, rules)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"memory     {peak / 2**20:8.2f} MiB peak for the state of {len(states)} patients (traced)")
    roundtrip = [PatientState.model_validate_json(s.model_dump_json()) for s in states.values()]
    began = time.perf_counter()
    for state in roundtrip * 5:
        PatientState.model_validate_json(state.model_dump_json())
    state_s = (time.perf_counter() - began) / (len(roundtrip) * 5)
    print(f"state i/o  {state_s * 1e6:8.2f} µs per patient-state load+store (what the agent adds per event)")

    began = time.perf_counter()
    lines = [to_line(event_point(e)) for e in events]
    encode_s = time.perf_counter() - began
    print(
        f"encode     {encode_s / len(lines) * 1e6:8.2f} µs/point  ({len(lines) / encode_s:,.0f} points/s, "
        f"{sum(map(len, lines)) / len(lines):.0f} bytes/line)"
    )


if __name__ == "__main__":
    main()
