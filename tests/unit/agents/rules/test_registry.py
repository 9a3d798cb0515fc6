"""The rule registry: the engine's composite order, the `rules show` order, and that a new composite
rule is one module of `agents.rules` (the engine and the CLI pick it up without a change)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agents.rules
from agents.rules import anaphylaxis, infusion_reaction, news2, registry, respiratory, symptom_rules
from agents.rules.context import RuleContext
from agents.rules.loader import load_rules
from agents.rules.registry import NOTHING, Evaluation, RuleLine, composites, kinds, register, rule_lines
from streams.apps.cli.main import app
from tests.builders import Timeline, of, run, summary

THROWAWAY_MODULE = "throwaway_rule"
THROWAWAY = '''"""A throwaway composite: a pulse of 95+ read at `ts` raises hemolysis; below, it clears."""

from agents.rules.context import RuleContext
from agents.rules.explain import finding
from agents.rules.registry import NOTHING, Evaluation, RuleLine, register
from models.alerts import Condition, Severity
from models.ruleset import RuleSet

CONDITION = Condition.HEMOLYSIS


def evaluate(ctx: RuleContext) -> Evaluation:
    rate = next(
        (r.values["heart_rate"] for r in ctx.session.readings if r.ts == ctx.ts and "heart_rate" in r.values),
        None,
    )
    if rate is None:
        return NOTHING
    if rate < 95:
        return Evaluation(resolution={CONDITION: False})
    found = finding(
        CONDITION,
        Severity.WARNING,
        "throwaway.fast_pulse",
        "Fast pulse (throwaway rule)",
        "Recheck the pulse.",
        ctx,
        f"heart rate {rate:g}",
        values={"heart_rate": rate},
        from_vitals=True,
    )
    return Evaluation([found], {CONDITION: True})


def show(rules: RuleSet) -> list[RuleLine]:
    return [RuleLine("throwaway.fast_pulse", CONDITION.value, "heart_rate >= 95", "warning", "any", "test")]


register("throwaway", show_order=55, show=show, evaluate=evaluate, evaluate_order=60)
'''


@pytest.fixture
def throwaway_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One new module in the `agents.rules` package (on its path for this test), found by discovery."""
    (tmp_path / f"{THROWAWAY_MODULE}.py").write_text(THROWAWAY)
    monkeypatch.setattr(agents.rules, "__path__", [*agents.rules.__path__, str(tmp_path)])
    for field in ("discovered", "ordered", "composites"):  # as if the process had just started
        monkeypatch.setattr(registry._REGISTRY, field, False if field == "discovered" else None)
    yield
    if "throwaway" in {k.name for k in kinds()}:
        registry.unregister("throwaway")
    sys.modules.pop(f"agents.rules.{THROWAWAY_MODULE}", None)


def test_the_engine_evaluates_the_composites_in_todays_order() -> None:
    assert composites() == (
        news2.early_warning_score,
        symptom_rules.symptom_findings,
        infusion_reaction.infusion_reaction,
        anaphylaxis.anaphylaxis,
        respiratory.respiratory_compromise,
    )


def test_rules_show_lists_the_kinds_in_the_order_of_the_files_sections() -> None:
    assert [k.name for k in kinds()] == [
        "threshold",
        "patient_limits",
        "early_warning_score",
        "infusion_reaction",
        "anaphylaxis",
        "respiratory_compromise",
        "symptom_rule",
        "care_schedule",
        "baseline",
        "high_risk_session",
        "checkin",
        "readiness",
    ]
    rules = load_rules()
    ids = [line.id for line in rule_lines(rules)]
    assert ids == [
        *(r.id for r in rules.threshold),
        *(f"patient_limits.{b.vital}.{b.side}" for b in rules.patient_limits.bounds),
        "patient_limits.snooze",
        *(t.id for t in rules.early_warning_score.tiers),
        rules.infusion_reaction.id,
        rules.anaphylaxis.id,
        *(
            row.id
            for row in (
                rules.respiratory_compromise.with_vitals,
                rules.respiratory_compromise.alone,
                rules.respiratory_compromise.myasthenia,
            )
        ),
        *(r.id for r in rules.symptom_rule),
        *(r.id for r in rules.care_schedule.sets),
        rules.baseline.id,
        rules.high_risk_session.tightened.id,
        rules.high_risk_session.no_epinephrine.id,
        rules.high_risk_session.baseline_fever.id,
        rules.checkin.id,
        *(r.id for r in rules.readiness.answer),
    ]


@pytest.mark.usefixtures("throwaway_rule")
def test_a_new_composite_module_is_evaluated_by_the_engine_with_its_resolution_signal() -> None:
    t = Timeline().baseline(-10).start_infusion().vitals(10, heart_rate=100).vitals(20, heart_rate=80)
    alerts = of(run(t, until_minutes=60), "hemolysis")
    assert summary(alerts) == [("hemolysis", "firing", "warning"), ("hemolysis", "resolved", "warning")]
    assert alerts[0].rule.id == "throwaway.fast_pulse"
    assert alerts[0].evidence.values == {"heart_rate": 100}
    assert (alerts[1].ts - t.start).total_seconds() == (20 + 15) * 60  # 15 min after the pulse fell
    assert composites()[-1].__module__ == f"agents.rules.{THROWAWAY_MODULE}"


@pytest.mark.usefixtures("throwaway_rule")
def test_a_new_composite_module_is_listed_by_rules_show_in_its_place() -> None:
    rules = load_rules()
    ids = [line.id for line in rule_lines(rules)]
    last_respiratory = ids.index(rules.respiratory_compromise.myasthenia.id)
    assert ids[last_respiratory + 1] == "throwaway.fast_pulse"
    assert ids[last_respiratory + 2] == rules.symptom_rule[0].id
    shown = CliRunner().invoke(app, ["rules", "show"])
    assert shown.exit_code == 0, shown.stderr
    assert "throwaway.fast_pulse" in shown.stdout


def test_the_throwaway_rule_is_gone_after_its_test() -> None:
    assert "throwaway" not in {k.name for k in kinds()}
    assert len(composites()) == 5


def _nothing(ctx: RuleContext) -> Evaluation:
    return NOTHING


def _no_lines(rules: object) -> list[RuleLine]:
    return []


def test_a_kind_registers_once_and_every_order_number_once() -> None:
    kinds()  # every rule module registered
    with pytest.raises(ValueError, match="already registered"):
        register("anaphylaxis", show_order=1000, show=_no_lines)
    with pytest.raises(ValueError, match="share show_order 40"):
        register("other", show_order=40, show=_no_lines)
    with pytest.raises(ValueError, match="share evaluate_order 10"):
        register("other", show_order=1000, show=_no_lines, evaluate=_nothing, evaluate_order=10)
    with pytest.raises(ValueError, match="both evaluate and evaluate_order"):
        register("other", show_order=1000, show=_no_lines, evaluate=_nothing)
    assert "other" not in {k.name for k in kinds()}
