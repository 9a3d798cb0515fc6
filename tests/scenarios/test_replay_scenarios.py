"""The clinical scenario library through `replay` under the default rule set (clinical reference Part A)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.rules.loader import load_rules
from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from models.ruleset import RuleSet
from tests.scenarios.library import (
    LIBRARY_DIR,
    Scenario,
    ScenarioError,
    check,
    load_scenarios,
    replay_scenario,
    unpaired_files,
)

SCENARIOS = load_scenarios()
LIVE_MAX_SPAN = timedelta(hours=3, minutes=20)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_replays_to_its_expected_alerts(scenario: Scenario, rules: RuleSet) -> None:
    alerts, errors = replay_scenario(scenario, rules)
    assert [e.line_no for e in errors] == list(scenario.bad_lines), errors
    problems = check(scenario, alerts)
    assert problems == [], f"{scenario.name}: {scenario.description}\n  " + "\n  ".join(problems)


def test_the_library_has_at_least_30_scenarios() -> None:
    assert len(SCENARIOS) >= 30


def test_every_part_a_condition_is_covered() -> None:
    covered = {c for s in SCENARIOS for c in s.covers}
    system = {
        Condition.PIPELINE_STALLED,
        Condition.INCIDENT,
        Condition.ONCALL_GAP,
        Condition.PAGE_UNDELIVERED,
    }
    missing = set(Condition) - system - covered  # the pipeline's and the pager's own alerts are not rules'
    assert not missing, sorted(c.value for c in missing)


def test_every_event_file_has_its_expectations_and_the_reverse() -> None:
    assert unpaired_files() == []


def test_every_scenario_expects_or_forbids_something() -> None:
    vague = [s.name for s in SCENARIOS if not (s.expect or s.absent or s.quiet_at_or_above)]
    assert vague == []


def test_live_candidates_are_short_single_patient_and_need_no_until() -> None:
    live = [s for s in SCENARIOS if s.live]
    # at most 14 (the live test sends them one after another): the 10 of before and 4 of the
    # alarm-fatigue behaviours (an incident acknowledged, a new member after it, no repeat, a blip)
    assert 6 <= len(live) <= 14
    for s in live:
        first, last = s.event_span()
        assert len(s.patient_ids) == 1, s.name
        assert s.until is None and not s.bad_lines, s.name
        # (nurse actions are fine: the live test sends each run of them only once the worker has
        # taken every event before it, since the two topics have no order between them)
        assert last - first <= LIVE_MAX_SPAN, s.name


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.live], ids=lambda s: s.name)
def test_a_rebased_scenario_gives_the_same_alerts_moved_in_time(scenario: Scenario, rules: RuleSet) -> None:
    moved = scenario.rebased(datetime(2027, 1, 4, 13, 30, tzinfo=UTC))
    delta = moved.t0 - scenario.t0
    before, _ = replay_scenario(scenario, rules)
    after, _ = replay_scenario(moved, rules)
    assert [a.model_copy(update={"ts": a.ts + delta, "evidence": None}) for a in before] == [
        a.model_copy(update={"evidence": None}) for a in after
    ]
    assert check(moved, after) == check(scenario, before)


# ---------------------------------------------------------------------------------------------
# The checker itself
# ---------------------------------------------------------------------------------------------


def _alert(
    scenario: Scenario,
    minutes: float,
    condition: str,
    severity: str,
    status: str = "firing",
    n: int = 1,
    rule: str = "r.x",
) -> Alert:
    (patient,) = scenario.patient_ids
    return Alert(
        alert_id=f"{patient}-d1:{condition}:{n}",
        patient_id=patient,
        session_id=f"{patient}-d1",
        status=AlertStatus(status),
        severity=Severity(severity),
        condition=Condition(condition),
        ts=scenario.at(minutes),
        title="t",
        evidence=Evidence(summary="s", phase="infusing"),
        action="a",
        rule=RuleRef(id=rule, version="1"),
    )


def _by_name(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)


def test_check_passes_the_expected_messages_and_names_each_problem() -> None:
    s = _by_name("hypoxemia-bands")
    good = [
        _alert(s, 25, "hypoxemia", "warning", rule="hypoxemia.band_92_93"),
        _alert(s, 45, "hypoxemia", "urgent", rule="hypoxemia.red_band"),
        _alert(s, 60, "hypoxemia", "urgent", "escalated", rule="hypoxemia.red_band"),
        _alert(s, 70, "hypoxemia", "urgent", "resolved", rule="hypoxemia.red_band"),
    ]
    assert check(s, good) == []
    assert any("never did" in p for p in check(s, []))
    late = [_alert(s, 26, "hypoxemia", "warning", rule="hypoxemia.band_92_93"), *good[1:]]
    assert any("first fired at warning or above at 26 min" in p for p in check(s, late))
    unresolved = good[:3]
    assert any("never resolved" in p for p in check(s, unresolved))
    noisy = [*good, _alert(s, 30, "tachycardia", "warning")]
    assert any(p.startswith("tachycardia: unexpected firing warning at 30 min") for p in check(s, noisy))
    other_patient = [*good, _alert(s, 30, "tachycardia", "urgent").model_copy(update={"patient_id": "pt-x"})]
    assert check(s, other_patient) == []


def test_check_enforces_max_severity_and_absence() -> None:
    s = _by_name("reaction-mild-headache")  # since rule file 1.3.0 an info finding (mild and alone)
    assert check(s, [_alert(s, 40, "infusion_reaction", "info", rule="infusion_reaction.symptoms")]) == []
    too_high = check(s, [_alert(s, 40, "infusion_reaction", "warning", rule="infusion_reaction.symptoms")])
    assert any("expected at most info" in p for p in too_high)
    meningitis = [
        _alert(s, 40, "infusion_reaction", "info", rule="infusion_reaction.symptoms"),
        _alert(s, 41, "aseptic_meningitis", "info"),
    ]
    assert any("aseptic_meningitis: unexpected" in p for p in check(s, meningitis))


def test_a_malformed_scenario_file_is_reported_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "broken.jsonl").write_text("{}\n")
    (tmp_path / "broken.toml").write_text(
        'description = "x"\ncovers = ["fever"]\nt0 = 2026-03-02T09:00:00Z\n'
        '[[expect]]\ncondition = "fevr"\nmin_severity = "urgent"\nfrom_minutes = 1\nto_minutes = 2\n'
    )
    with pytest.raises(ScenarioError, match=r"broken\.toml: expect\[0\]\.condition: 'fevr'"):
        load_scenarios(tmp_path)
    (tmp_path / "broken.toml").write_text('description = "x"\ncovers = [\n')
    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML"):
        load_scenarios(tmp_path)
    (tmp_path / "broken.toml").write_text('description = "x"\ncovers = ["fever"]\nt0 = 1\nliv = true\n')
    with pytest.raises(ScenarioError, match=r"broken\.toml: liv: unknown key"):
        load_scenarios(tmp_path)


def test_the_library_directory_is_the_default() -> None:
    assert {s.path.parent for s in SCENARIOS} == {LIBRARY_DIR}
