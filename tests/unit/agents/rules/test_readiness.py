"""The readiness check before a start: what the patient is told, and `not_ready` for the nurse."""

from __future__ import annotations

from datetime import timedelta

from models.alerts import Alert, AlertStatus
from models.patient_messages import PatientMessage, PatientMessageKind
from tests.builders import START, Timeline, of, run_with_patient


def answers(out: list[Alert | PatientMessage]) -> list[PatientMessage]:
    return [m for m in out if isinstance(m, PatientMessage) and m.kind is PatientMessageKind.READINESS]


def test_all_good_says_start_and_raises_nothing() -> None:
    out = run_with_patient(Timeline().readiness(-20, premedication_taken=True, epinephrine_at_hand=True))
    assert [(m.start, m.alert_id) for m in answers(out)] == [(True, None)]
    assert not [m for m in out if isinstance(m, Alert)]


def test_a_blocking_answer_says_do_not_start_and_pages_the_nurse() -> None:
    out = run_with_patient(Timeline().readiness(-20, epinephrine_at_hand=False, well_hydrated=False))
    told = answers(out)
    assert told[0].start is False and "Do not start" in told[0].text
    assert "epinephrine" in told[0].text and "water" in told[0].text  # the advice rides along
    raised = of([m for m in out if isinstance(m, Alert)], "not_ready")
    assert raised[0].severity.value == "urgent" and "no epinephrine at hand" in raised[0].title
    assert raised[0].rule.id == "readiness.no_epinephrine" and told[0].alert_id == raised[0].alert_id


def test_a_temperature_at_the_fever_limit_counts_as_feverish() -> None:
    out = run_with_patient(Timeline().readiness(-20, temperature_c=38.0))
    assert answers(out)[0].start is False
    assert of([m for m in out if isinstance(m, Alert)], "not_ready")[0].rule.id == "readiness.fever"


def test_a_later_answer_with_nothing_blocking_resolves_not_ready() -> None:
    out = run_with_patient(Timeline().readiness(-40, feeling_unwell=True).readiness(-10))
    statuses = [m.status for m in of([m for m in out if isinstance(m, Alert)], "not_ready")]
    assert statuses == [AlertStatus.FIRING, AlertStatus.RESOLVED]
    assert [m.start for m in answers(out)] == [False, True]


def test_a_readiness_check_without_a_session_is_the_patients_readiness_of_that_day() -> None:
    t = Timeline().readiness(-20, feverish=True)
    del t.items[0]["session_id"]  # the app does not know the id of the infusion about to start
    out = run_with_patient(t)
    raised = of([m for m in out if isinstance(m, Alert)], "not_ready")
    day = f"pt-1-readiness-{START - timedelta(minutes=20):%Y%m%d}"
    assert raised[0].alert_id == f"{day}:not_ready:1" and answers(out)[0].session_id == day
