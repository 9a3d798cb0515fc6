"""The in-process part of `make bench`: micro-benchmarks of the hot path, without servers.

Contract validation (µs/event), the rule engine over a simulated multi-patient load (events/s),
the patient-state JSON round trip, and line-protocol encoding (µs/point).
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
from streams.apps.bench.facts import machine_facts
from streams.apps.simulator import load_plan
from streams.infra.sinks.influx.line_protocol import event_point, to_line


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


def main(patients: int = 200) -> dict[str, float]:
    """Print the figures and return them (µs per event or point)."""
    print(f"python {platform.python_version()} on {platform.machine()}, {machine_facts()['cpu_model']}")
    raw = _events(patients)
    print(f"workload: {len(raw):,} simulated events of {patients} concurrent home infusions")

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
    return {
        "events": len(raw),
        "validate_us_per_event": round(parse_s / len(raw) * 1e6, 2),
        "rules_us_per_event": round(engine_s / len(raw) * 1e6, 2),
        "state_peak_mib": round(peak / 2**20, 2),
        "state_roundtrip_us": round(state_s * 1e6, 2),
        "encode_us_per_point": round(encode_s / len(lines) * 1e6, 2),
    }


if __name__ == "__main__":
    main()
