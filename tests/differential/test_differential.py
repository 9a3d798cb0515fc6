"""The engine of the day gives exactly the messages recorded before the bounded-state work
(issue 17): the scenario library, cohort sessions and random 1 Hz streams (out of order, late,
duplicated). A deliberate change of behaviour is rerecorded with `python -m tests.differential.record`."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest

from agents.rules.loader import load_rules
from models.ruleset import RuleSet
from tests.differential.cases import Case, all_cases, outputs, read_recorded

CASES = all_cases()
RECORDED = {family: read_recorded(family) for family in {c.family for c in CASES}}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


def test_every_case_was_recorded() -> None:
    assert {(c.family, c.name) for c in CASES} == {(f, n) for f, cases in RECORDED.items() for n in cases}


def _message(text: str) -> dict[str, Any]:
    """A recorded output as JSON (a cohort line wraps its alert with the time it came out)."""
    if text.startswith("line "):
        return {}
    data: dict[str, Any] = json.loads(text)
    return data.get("alert", data)


def test_the_recording_holds_pages_and_patient_messages() -> None:
    """Not a recording of nothing: each family has pages, and the streams patient messages."""
    for family, cases in RECORDED.items():
        messages = [_message(line) for lines in cases.values() for line in lines]
        assert sum(m.get("page") is True for m in messages) >= 20, family
    streams = [_message(line) for lines in RECORDED["random"].values() for line in lines]
    assert any("kind" in m for m in streams)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}-{c.name}" for c in CASES])
def test_same_messages_as_recorded(case: Case, rules: RuleSet) -> None:
    expected = RECORDED[case.family][case.name]
    got = outputs(case, rules)
    if got != expected:
        diff = "\n".join(difflib.unified_diff(expected, got, "recorded", "now", n=1, lineterm=""))
        pytest.fail(
            f"{case.family}/{case.name}: {len(got)} messages, {len(expected)} recorded\n{diff[:6000]}"
        )
