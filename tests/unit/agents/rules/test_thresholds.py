"""Single-vital rows of the default rule set, at and just past their limits."""

from __future__ import annotations

import pytest

from agents.rules.loader import load_rules
from agents.rules.thresholds import evaluate_row, limits_text
from models.ruleset import Phase, ThresholdRule

RULES = load_rules()


def row(rule_id: str) -> ThresholdRule:
    return next(r for r in RULES.threshold if r.id == rule_id)


def fires(
    rule_id: str, value: float, base: float | None = None, phase: Phase = Phase.INFUSING, factor: float = 1.0
) -> bool:
    rule = row(rule_id)
    return evaluate_row(
        rule, value, base, phase, margin=RULES.hysteresis.for_vital(rule.vital), relative_factor=factor
    ).fires


@pytest.mark.parametrize(
    ("rule_id", "value", "base", "expected"),
    [
        ("fever.febrile_reaction", 38.0, 37.0, True),
        ("fever.febrile_reaction", 37.99, 36.9, False),
        ("fever.febrile_reaction", 38.2, 37.3, False),  # only +0.9 above baseline
        ("fever.febrile_reaction", 38.2, None, False),  # no baseline: the no_baseline row instead
        ("fever.no_baseline", 38.0, None, True),
        ("fever.no_baseline", 38.5, 37.0, False),
        ("fever.high", 39.0, 38.5, True),
        ("fever.high", 38.99, None, False),
        ("fever.large_rise", 38.0, 36.0, True),
        ("temperature_rise.mild", 37.8, 36.8, True),
        ("temperature_rise.mild", 38.0, 36.8, False),
        ("hypotension.absolute", 89, 120, True),
        ("hypotension.absolute", 90, 120, False),
        ("hypotension.absolute", 89, 95, False),  # low normal baseline: not an absolute drop
        ("hypotension.absolute", 89, None, True),
        ("hypotension.relative_drop", 83, 120, True),  # 30.8 % below
        ("hypotension.relative_drop", 84, 120, False),  # exactly 30 %: not more than
        ("hypotension.drop_20", 100, 120, True),
        ("hypotension.drop_20", 101, 120, False),
        ("hypertension.grade3_systolic", 160, 140, True),  # at the grade 3 level and 20 above baseline
        ("hypertension.grade3_systolic", 160, 141, False),  # a hypertensive patient's usual level
        ("hypertension.grade3_systolic", 159, 120, False),
        ("hypertension.grade3_systolic_no_baseline", 160, None, True),
        ("hypertension.grade3_systolic_no_baseline", 159, None, False),
        ("hypertension.grade3_diastolic", 100, 80, True),
        ("hypertension.grade3_diastolic", 100, 81, False),
        ("hypertension.red_band", 220, None, True),
        ("tachycardia.red_band", 131, None, True),
        ("tachycardia.band_111_130", 111, None, True),
        ("tachycardia.band_111_130", 110, None, False),
        ("tachycardia.rise_30", 100, 70, True),
        ("tachycardia.rise_30", 99, 70, False),
        ("bradycardia.red_band", 40, None, True),
        ("bradycardia.band_41_50", 50, 65, True),
        ("bradycardia.band_41_50", 50, 55, False),  # baseline not above 60
        ("hypoxemia.red_band", 91, 94, True),  # in the red band and 3 below baseline
        ("hypoxemia.red_band", 91, 93, False),  # a patient who sits at 93: not a fall of 3
        ("hypoxemia.red_band", 91, None, False),
        ("hypoxemia.red_band", 89, 91, False),  # a baseline in the red band leaves no margin: ...
        ("hypoxemia.red_band_absolute", 90, 91, True),  # ... there the band pages alone
        ("hypoxemia.red_band_absolute", 91, None, True),
        ("hypoxemia.red_band_absolute", 91, 92, False),
        ("hypoxemia.red_band_absolute", 91, 97, False),
        ("hypoxemia.rapid_desat", 86, 88, True),  # whatever the baseline
        ("hypoxemia.rapid_desat", 87, None, False),
        ("hypoxemia.band_92_93", 93, 96, True),
        ("hypoxemia.band_92_93", 93, 95, False),
        ("hypoxemia.band_92_93", 94, 99, False),
        ("hypoxemia.band_92_93_no_baseline", 93, None, True),
        ("hypoxemia.band_92_93_no_baseline", 94, None, False),
        ("tachypnea.red_band", 25, None, True),
        ("tachypnea.band_21_24", 21, None, True),
        ("bradypnea.red_band", 8, None, True),
        ("bradypnea.red_band", 9, None, False),
    ],
)
def test_rows_fire_at_their_limits_and_not_before(
    rule_id: str, value: float, base: float | None, expected: bool
) -> None:
    assert fires(rule_id, value, base) is expected


def test_rows_outside_their_phases_neither_fire_nor_hold() -> None:
    assert not fires("fever.febrile_reaction", 38.5, 37.0, phase=Phase.POST_LATE)
    assert fires("fever.high", 39.5, None, phase=Phase.POST_LATE)
    assert not fires("fever.high", 39.5, None, phase=Phase.AFTER)
    # before the start a 92-93 reading becomes the baseline; the red band still pages there
    assert not fires("hypoxemia.band_92_93_no_baseline", 92, None, phase=Phase.PRE)
    assert fires("hypoxemia.red_band_absolute", 91, None, phase=Phase.PRE)
    # before the start a pressure is graded only at the severe level (NICE), not at grade 3
    assert not fires("hypertension.grade3_systolic_no_baseline", 170, None, phase=Phase.PRE)
    assert fires("hypertension.grade3_systolic_no_baseline", 170, None, phase=Phase.INFUSING)
    assert fires("hypertension.severe_before_start", 180, None, phase=Phase.PRE)
    assert not fires("hypertension.severe_before_start", 179, None, phase=Phase.PRE)
    assert fires("hypertension.severe_diastolic_before_start", 120, None, phase=Phase.PRE)
    assert not fires("hypertension.severe_diastolic_before_start", 119, None, phase=Phase.PRE)
    assert not fires("hypertension.severe_before_start", 185, None, phase=Phase.INFUSING)


def test_high_risk_factor_tightens_only_baseline_relative_limits() -> None:
    assert not fires("temperature_rise.mild", 37.6, 36.8)
    assert fires("temperature_rise.mild", 37.6, 36.8, factor=0.75)  # 0.8 >= 0.75
    assert not fires("hypertension.grade3_systolic_no_baseline", 159, None, factor=0.75)


def test_hysteresis_keeps_a_condition_holding_near_its_limit() -> None:
    rule = row("fever.high")
    near = evaluate_row(rule, 38.8, None, Phase.INFUSING, margin=0.3)
    clear = evaluate_row(rule, 38.6, None, Phase.INFUSING, margin=0.3)
    assert (near.fires, near.holds) == (False, True)
    assert (clear.fires, clear.holds) == (False, False)


def test_a_row_counting_only_a_baseline_before_the_start_says_so() -> None:
    assert limits_text(row("hypoxemia.band_92_93_no_baseline")) == "<= 93 and no baseline before the start"
    assert (
        limits_text(row("hypoxemia.red_band_absolute")) == "<= 91 and baseline before the start < 92, or none"
    )
    assert limits_text(row("hypoxemia.red_band")) == "<= 91 and fall >= 3 and baseline before the start >= 92"
    assert limits_text(row("hypotension.absolute")) == "< 90 and baseline >= 100 or missing"
    assert limits_text(row("fever.no_baseline")) == ">= 38 and no baseline"
