"""The differential test's cases and how each is run: every message the rules give, as JSON lines.

Three families: the scenario library (replayed with its patient messages), sessions of the
simulated cohort (each alert message with the rules' clock when it came out) and seeded random
streams (1 Hz oximeters, out of order, late, duplicated). `python -m tests.differential.record`
writes today's outputs to `recorded/`; the test compares the engine of the day with them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from models.ruleset import RuleSet
from streams.apps.cohort.run import run_session
from streams.apps.cohort.session_plan import plan_session
from streams.apps.replay import LineError, replay
from tests.differential.random_streams import random_stream
from tests.scenarios.library import load_scenarios

RECORDED = Path(__file__).with_name("recorded")
COHORT_SEED = 14
COHORT_SESSIONS = 300
COHORT_SERIOUS_SHARE = 0.2
RANDOM_STREAMS = 4


@dataclass(frozen=True, slots=True)
class Case:
    family: str
    name: str


def all_cases() -> list[Case]:
    scenarios = [Case("scenarios", s.name) for s in load_scenarios()]
    cohort = [Case("cohort", str(i)) for i in range(COHORT_SESSIONS)]
    streams = [Case("random", str(seed)) for seed in range(RANDOM_STREAMS)]
    return [*scenarios, *cohort, *streams]


def _replayed(lines: list[str], rules: RuleSet, until: object) -> Iterator[str]:
    for item in replay(lines, rules, until=until, patient_messages=True):  # type: ignore[arg-type]
        yield f"line {item.line_no}: {item.reason}" if isinstance(item, LineError) else item.model_dump_json()


def outputs(case: Case, rules: RuleSet) -> list[str]:
    """Every message the case gives under `rules`, in order, one JSON text each."""
    if case.family == "scenarios":
        scenario = next(s for s in load_scenarios() if s.name == case.name)
        return list(_replayed(list(scenario.lines), rules, scenario.until))
    if case.family == "cohort":
        plan = plan_session(int(case.name), COHORT_SEED, COHORT_SERIOUS_SHARE)
        outcome = run_session(plan, rules)
        return [
            json.dumps({"at": e.at.isoformat(), "alert": json.loads(e.alert.model_dump_json())})
            for e in outcome.emitted
        ]
    lines, until = random_stream(int(case.name))
    return list(_replayed(lines, rules, until))


def recorded_path(family: str) -> Path:
    return RECORDED / f"{family}.jsonl.gz"


def write_recorded(family: str, results: dict[str, list[str]]) -> None:
    RECORDED.mkdir(exist_ok=True)
    with gzip.open(recorded_path(family), "wt", encoding="utf-8") as out:
        for name, lines in results.items():
            out.write(json.dumps({"case": name, "outputs": lines}) + "\n")


def read_recorded(family: str) -> dict[str, list[str]]:
    with gzip.open(recorded_path(family), "rt", encoding="utf-8") as source:
        return {row["case"]: row["outputs"] for row in map(json.loads, source)}


def digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
