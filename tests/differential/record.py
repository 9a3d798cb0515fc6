"""Record the rules' outputs of today for the differential test: `python -m tests.differential.record`.

Run it only before a change that must not change any output (its commit then holds the recording
and the change separately); after a deliberate change of behaviour, rerun it and say why in the
commit.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict

from agents.rules.loader import load_rules
from tests.differential.cases import all_cases, digest, outputs, write_recorded


def main() -> None:
    rules = load_rules()
    results: dict[str, dict[str, list[str]]] = defaultdict(dict)
    began = time.monotonic()
    cases = all_cases()
    for n, case in enumerate(cases, start=1):
        results[case.family][case.name] = lines = outputs(case, rules)
        if case.family == "random" or n % 50 == 0 or n == len(cases):
            print(
                f"[{time.monotonic() - began:6.0f} s] {n}/{len(cases)} {case.family}/{case.name}: "
                f"{len(lines)} messages {digest(lines)}",
                file=sys.stderr,
            )
    for family, by_case in results.items():
        write_recorded(family, by_case)


if __name__ == "__main__":
    main()
