"""The patient channel (`ivig.patient.v1`) through replay: measure again, vitals due, and an
incident's words, with instructions only once it is corroborated or a nurse acknowledged it."""

from __future__ import annotations

from pathlib import Path

import pytest

import agents.rules
from agents.rules.loader import RuleFileError, load_rules, parse_rules
from models.alerts import Alert, Condition
from models.patient_messages import PatientMessage, PatientMessageKind
from tests.builders import Timeline, run_with_patient

RULES = load_rules()
DEFAULT_RULES = Path(agents.rules.__file__).with_name("default_rules.toml")


def session() -> Timeline:
    t = Timeline().profile(epinephrine_available=True).baseline(-10).start_infusion()
    for minute in range(5, 20, 5):
        t.vitals(minute, spo2=98, heart_rate=72)
    return t


def told(out: list[Alert | PatientMessage]) -> list[PatientMessage]:
    return [m for m in out if isinstance(m, PatientMessage)]


def test_a_lone_low_pressure_asks_to_measure_again_and_then_only_says_a_nurse_is_calling() -> None:
    t = session().vitals(20, systolic_bp=84, diastolic_bp=50)
    out = run_with_patient(t, until_minutes=26)
    messages = told(out)
    assert [(m.kind, m.vitals) for m in messages][:1] == [(PatientMessageKind.MEASURE_AGAIN, ["systolic_bp"])]
    assert "blood pressure" in messages[0].text
    # no repeat within 3 minutes: the unconfirmed page; the patient is told a nurse is calling,
    # never told to use epinephrine on one unconfirmed reading
    incident = [m for m in messages if m.kind is PatientMessageKind.INCIDENT]
    assert len(incident) == 1 and not incident[0].instructions
    assert incident[0].text == RULES.patient.nurse_calling and "epinephrine" not in incident[0].text
    page = next(a for a in out if isinstance(a, Alert) and a.page)
    assert out.index(page) < out.index(incident[0]), "the patient's message came before the nurse's page"
    assert incident[0].severity is not None and incident[0].severity.value == "critical"


def test_a_nurse_acknowledging_the_unconfirmed_incident_sends_its_instructions_once() -> None:
    t = session().vitals(20, systolic_bp=84, diastolic_bp=50)
    t.nurse(27, "ack", "pt-1:incident:1", by="rn-1")
    t.nurse(28, "note", "pt-1:incident:1", by="rn-1", note="on the phone")
    messages = told(run_with_patient(t, until_minutes=40))
    instructed = [m for m in messages if m.instructions]
    assert len(instructed) == 1, "instructions sent again after the acknowledgement"
    assert instructed[0].text == RULES.patient.instructions_for(Condition.ANAPHYLAXIS)
    assert instructed[0].alert_id == "pt-1:incident:1"


def test_corroborated_anaphylaxis_gives_its_instructions_at_once() -> None:
    t = session().symptom(20, "hives")
    t.vitals(22, spo2=93, heart_rate=105)
    t.vitals(25, spo2=91, heart_rate=118, systolic_bp=86, diastolic_bp=50)
    out = run_with_patient(t, until_minutes=30)
    page = next(a for a in out if isinstance(a, Alert) and a.page and a.condition.value == "anaphylaxis")
    after = [m for m in out[out.index(page) :] if isinstance(m, PatientMessage)]
    assert after and after[0].instructions and "epinephrine" in after[0].text
    assert after[0].incident_id == page.incident_id and after[0].alert_id == page.alert_id


def test_a_set_falling_due_asks_for_the_whole_set_and_replay_gives_the_same_ids() -> None:
    t = Timeline().profile(epinephrine_available=True).baseline(-10).start_infusion()
    first = told(run_with_patient(t, until_minutes=50))
    due = [m for m in first if m.kind is PatientMessageKind.VITALS_DUE]
    assert due and due[0].vitals == list(RULES.baseline.expected_vitals)
    assert not due[0].instructions and due[0].severity is None
    again = told(run_with_patient(t, until_minutes=50))
    assert [m.message_id for m in again] == [m.message_id for m in first]


def test_confirmed_warnings_and_routine_readings_tell_the_patient_nothing() -> None:
    t = session()
    for minute in range(20, 60, 5):
        t.vitals(minute, spo2=98, heart_rate=72, systolic_bp=120, diastolic_bp=75, temperature_c=36.7)
    assert told(run_with_patient(t, until_minutes=60)) == []


def test_the_rule_file_refuses_two_rows_for_one_condition_and_unknown_placeholders() -> None:
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    twice = text + '\n[[patient.incident]]\ncondition = "fever"\ninstructions = "Rest."\nsource = "x y z"\n'
    with pytest.raises(RuleFileError, match=r"one patient\.incident row per condition"):
        parse_rules(twice)
    unknown = text.replace("measure your {vitals} again", "measure your {pressure} again")
    with pytest.raises(RuleFileError, match="unknown placeholder"):
        parse_rules(unknown)
