"""Each injected serious event keeps to the timing the clinical reference gives it."""

from __future__ import annotations

import random

import pytest

from models.events import SymptomName
from streams.apps.cohort import serious_courses
from streams.apps.cohort.care_schedule import pump_plan
from streams.apps.cohort.population import draw_patient
from streams.apps.cohort.serious_events import Kind


@pytest.mark.parametrize("seed", range(40))
def test_events_fall_in_their_windows(seed: int) -> None:
    rng = random.Random(seed)
    patient = draw_patient("p", rng)
    pump = pump_plan(patient)
    anaphylaxis = serious_courses.anaphylaxis(pump, rng)
    assert 0 < anaphylaxis.onset < pump.stop and anaphylaxis.stop_at is not None
    assert anaphylaxis.reports[0].minute - anaphylaxis.onset <= 3  # the skin sign first, within minutes
    assert anaphylaxis.reports[1].minute - anaphylaxis.reports[0].minute <= 2  # then a breathing sign
    febrile = serious_courses.febrile(patient, pump, rng)
    steps = pump.steps or (30.0,)
    assert any(0 < febrile.onset - step <= 25 for step in steps) or febrile.onset == pump.stop - 10
    assert not febrile.reports_are_evidence
    thrombosis = serious_courses.thrombosis(pump, rng)
    assert pump.stop + 60 <= thrombosis.onset <= pump.stop + 7 * 1440
    breathing = serious_courses.breathing(patient, pump, rng)
    assert pump.stop + 30 <= breathing.onset <= pump.stop + 12 * 60
    assert breathing.reports[0].symptom is SymptomName.SHORTNESS_OF_BREATH


def test_kinds_come_in_equal_shares() -> None:
    rng = random.Random(1)
    patient = draw_patient("p", rng)
    pump = pump_plan(patient)
    kinds = [serious_courses.draw_injected(patient, pump, rng).kind for _ in range(2500)]
    for kind in Kind:
        assert kinds.count(kind) / len(kinds) == pytest.approx(1 / len(Kind), abs=0.03)
