"""`make bench` (`python -m streams.apps.bench [--quick]`): prints figures, writes bench-results/<utc>.json.

Never a pass/fail test: the table marks each target pass or miss, and the exit status is 0 whenever
the run completed.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from streams.apps.bench import long_run, micro, one_hertz, worker_path
from streams.apps.bench.facts import machine_facts
from streams.apps.bench.gateway_load import GatewayLoad, run_gateway_bench
from streams.apps.bench.live import Plan, run_live
from streams.apps.bench.stats import sustained, verdicts
from streams.infra.settings import REPO_ROOT

FULL = Plan(
    steps=[1000, 2000, 2500, 5000, 10000, 20000], step_seconds=40.0, patients=10_000, latency_rate=2000
)
QUICK = Plan(
    steps=[1000, 2000, 5000], step_seconds=12.0, patients=2_000, latency_rate=2000, drain_seconds=30.0
)


def _say(line: str) -> None:
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.apps.bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a ~2 minute smoke run (short steps, 2,000 sessions)"
    )
    parser.add_argument("--micro-only", action="store_true", help="only the in-process figures (no servers)")
    parser.add_argument("--gateway-only", action="store_true", help="only the gateway's load figure")
    parser.add_argument("--steps", help="comma-separated rates instead of the plan's (e.g. 100,200,500)")
    parser.add_argument("--step-seconds", type=float, help="seconds per step instead of the plan's")
    parser.add_argument("--patients", type=int, help="sessions instead of the plan's")
    parser.add_argument(
        "--worker-env", action="append", default=[], metavar="NAME=VALUE", help="extra env of the workers"
    )
    args = parser.parse_args()
    began = time.monotonic()
    result: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "machine": machine_facts()}
    if args.gateway_only:
        _say("== gateway (a stack of its own) ==")
        result["gateway"] = run_gateway_bench(GatewayLoad(), _say).as_json()
        args.micro_only = True
    else:
        _say("== in-process (no servers) ==")
        result["micro"] = micro.main(50 if args.quick else 200)
        buckets = long_run.main(*((5, 30) if args.quick else (10, 90)))
        result["long_session"] = [asdict(b) for b in buckets]
        result["worker_path"] = worker_path.run(
            *((2_000, 1000.0, 10.0) if args.quick else (10_000, 1000.0, 60.0))
        )
        marks = one_hertz.run(*((100, 30, 10) if args.quick else (500, 30, 5)))
        result["one_hertz"] = [asdict(m) for m in marks]
    if not args.micro_only:
        plan = QUICK if args.quick else FULL
        if args.steps:
            plan = replace(plan, steps=[int(rate) for rate in args.steps.split(",")])
        if args.step_seconds:
            plan = replace(plan, step_seconds=args.step_seconds)
        if args.patients:
            plan = replace(plan, patients=args.patients)
        if args.worker_env:
            plan = replace(plan, worker_env=dict(item.split("=", 1) for item in args.worker_env))
        steps = ", ".join(f"{r:,}" for r in plan.steps)
        _say(f"== live: steps {steps} readings/s, {plan.step_seconds:g} s each ==")
        live = run_live(plan, _say)
        table = verdicts(
            live.steps,
            latency_rate=plan.latency_rate,
            raw_rate=live.raw_rate,
            drain_rate=live.drain_rate,
            sessions=live.sessions,
            sessions_rss_mb=live.sessions_rss_mb,
        )
        result.update(
            mode="quick" if args.quick else "full",
            plan=plan.__dict__,
            steps=[s.as_json() for s in live.steps],
            sustained_readings_per_s=sustained(live.steps),
            raw_consume={"messages": live.raw_messages, "seconds": live.raw_seconds, "rate": live.raw_rate},
            drain={"events": live.drain_events, "seconds": live.drain_seconds, "rate": live.drain_rate},
            sessions={
                "active": live.sessions,
                "rules_rss_mb": live.sessions_rss_mb,
                "drained": live.sessions_drained,
                "events_taken_in": live.sessions_events,
            },
            peak_rss_mb=live.peak_rss_mb,
            setup_seconds=live.setup_seconds,
            other_alerts_seen=live.probe_other_alerts,
            targets=[v.__dict__ for v in table],
        )
        _print_table(live.steps, table)
        _say("== gateway (a stack of its own) ==")
        load = GatewayLoad(devices=1_000, seconds=8.0) if args.quick else GatewayLoad()
        result["gateway"] = run_gateway_bench(load, _say).as_json()
    result["seconds"] = round(time.monotonic() - began, 1)
    out = REPO_ROOT / "bench-results" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    _say(f"results: {out.relative_to(REPO_ROOT)} ({result['seconds']:.0f} s)")


def _print_table(steps: list[Any], table: list[Any]) -> None:
    _say("")
    _say(
        " step/s   sent/s  rules/s  lag end  flat  points/s  alerts  p50 ms  p95 ms  p99 ms"
        "  cpu % rules/writer/kafka/influx/gen"
    )
    for s in steps:
        p = {k: "-" if v is None else f"{v:,.0f}" for k, v in s.latency_ms.items()}
        c = s.cpu_percent
        _say(
            f"{s.target_rate:7,} {s.offered_rate:8,.0f} {s.processed_rate:8,.0f} {s.lag_end:8,.0f} "
            f"{'yes' if s.flat else 'no':>5} {s.points_rate:9,.0f} {s.alerts:7} {p['p50']:>7} {p['p95']:>7} "
            f"{p['p99']:>7}  {c.get('rules', 0):.0f}/{c.get('writer', 0):.0f}/{c.get('kafka', 0):.0f}/"
            f"{c.get('influxdb', 0):.0f}/{c.get('loadgen', 0):.0f}"
        )
    _say("")
    _say(f" {'target':44} {'goal':28} {'measured':36} verdict")
    for v in table:
        verdict = "n/a" if v.passed is None else "PASS" if v.passed else "MISS"
        _say(f" {v.name:44} {v.target:28} {v.measured:36} {verdict}")


if __name__ == "__main__":
    main()
