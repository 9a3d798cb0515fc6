"""Check-ins after the infusion: prompts, reminders, one missed warning, answers as ordinary events."""

from __future__ import annotations

from datetime import timedelta

from agents.rules.checkins import due_checkins
from agents.rules.engine import advance, process
from agents.rules.loader import load_rules
from models.alerts import Alert, AlertStatus
from models.parsing import parse_replay_line
from models.patient_messages import PatientMessage, PatientMessageKind
from models.ruleset import RuleSet
from tests.builders import START, Timeline, of, run_with_patient
from tests.unit.agents.rules.test_timers import feed

RULES = load_rules()
STOP = 120  # minutes after the start
DAY = 24 * 60


def infusion(patient: str = "pt-1", session: str = "s1") -> Timeline:
    t = Timeline(patient=patient, session=session).baseline(-10).start_infusion()
    for minute in range(15, STOP, 30):
        t.vitals(minute, spo2=98, heart_rate=72)
    return t.vitals(STOP - 5, spo2=98, heart_rate=72).infusion(STOP, "stop")


def prompts(out: list[Alert | PatientMessage]) -> list[PatientMessage]:
    return [m for m in out if isinstance(m, PatientMessage) and m.kind is PatientMessageKind.CHECKIN]


def alerts(out: list[Alert | PatientMessage]) -> list[Alert]:
    return [m for m in out if isinstance(m, Alert)]


def test_check_ins_are_asked_at_the_rule_files_hours_after_the_stop_with_its_questions() -> None:
    out = run_with_patient(infusion(), until_minutes=STOP + 3 * DAY + 1)
    asked = [m for m in prompts(out) if not m.reminder]
    assert [m.ts for m in asked] == [START + timedelta(minutes=STOP + d * DAY) for d in (1, 2, 3)]
    assert [m.checkin_id for m in asked] == ["s1:checkin:24h", "s1:checkin:48h", "s1:checkin:72h"]
    assert "Day 2" in asked[1].text
    assert [q.id for q in asked[0].questions] == [q.id for q in RULES.checkin.question]
    headache = next(q for q in asked[0].questions if q.id == "headache")
    assert headache.symptom is not None and headache.symptom.value == "headache" and headache.graded


def test_an_unanswered_check_in_reminds_the_patient_then_warns_the_nurse_once() -> None:
    out = run_with_patient(infusion(), until_minutes=STOP + 3 * DAY)
    reminders = [m for m in prompts(out) if m.reminder]
    assert reminders[0].ts == START + timedelta(minutes=STOP + DAY + RULES.checkin.remind_after_minutes)
    missed = of(alerts(out), "missed_checkin")
    assert [(m.status, m.ts) for m in missed] == [
        (AlertStatus.FIRING, START + timedelta(minutes=STOP + DAY + RULES.checkin.missed_after_minutes))
    ]  # day 2 missed as well: added to the open warning, not a second one
    assert missed[0].severity.value == "warning" and "Day-1" in missed[0].title
    paged = [m for m in alerts(out) if m.page]
    assert len(paged) == 1 and paged[0].condition.value == "incident"


def test_an_answer_resolves_the_missed_warning_and_counts_for_the_check_ins_due_by_then() -> None:
    t = infusion().checkin(STOP + 2 * DAY + 60)  # answers day 2 (and the missed day 1)
    out = run_with_patient(t, until_minutes=STOP + 2 * DAY + 12 * 60)
    missed = of(alerts(out), "missed_checkin")
    assert [m.status for m in missed] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
    assert missed[-1].ts == START + timedelta(minutes=STOP + 2 * DAY + 60)
    assert not [m for m in prompts(out) if m.reminder and m.checkin_id == "s1:checkin:48h"]


def test_answers_are_evaluated_as_ordinary_symptom_and_vitals_events() -> None:
    at = STOP + 2 * DAY + 10
    t = (
        infusion()
        .checkin(STOP + DAY + 5)
        .checkin(at, ("headache", "severe"), ("photophobia", "moderate"), temperature_c=38.6)
    )
    out = alerts(run_with_patient(t))
    meningitis = of(out, "aseptic_meningitis")
    assert meningitis and meningitis[0].ts == START + timedelta(minutes=at) and meningitis[0].page
    assert not of(out, "missed_checkin")
    session = feed(t).sessions["s1"]  # the temperature answered is a reading like any other
    assert session.latest_ts["temperature_c"] == START + timedelta(minutes=at)


def test_a_later_start_of_the_course_ends_the_earlier_sessions_check_ins() -> None:
    day2 = Timeline(session="s2").baseline(DAY - 10).infusion(DAY, "start", 50, product="Privigen")
    for minute in range(DAY + 15, DAY + STOP, 30):
        day2.vitals(minute, spo2=98, heart_rate=72)
    day2.vitals(DAY + STOP - 5, spo2=98, heart_rate=72).infusion(DAY + STOP, "stop")
    out = run_with_patient(infusion(), day2, until_minutes=STOP + 2 * DAY + 1)
    asked = [(m.session_id, m.ts) for m in prompts(out) if not m.reminder]
    assert asked == [("s2", START + timedelta(minutes=DAY + STOP + DAY))]  # s1's +24 h fell after s2 started


def test_the_last_check_in_falls_within_post_late() -> None:
    state = feed(infusion())
    last = due_checkins(state, state.sessions["s1"], RULES)[-1]
    assert last.day == 10
    assert last.missed < START + timedelta(minutes=STOP, days=RULES.timing.post_late_days)


def test_a_late_upload_of_an_older_answer_leaves_the_warning_about_a_later_check_in_open() -> None:
    missed = RULES.checkin.missed_after_minutes
    state = feed(infusion())
    now = START + timedelta(minutes=STOP + 2 * DAY + missed + 1)
    advance(state, now, RULES)  # days 1 and 2 both missed: one warning
    assert "missed_checkin" in state.sessions["s1"].alerts
    day1 = parse_replay_line(Timeline().checkin(STOP + DAY + 10).lines()[0])  # answered then, uploaded now
    process(state, day1, now + timedelta(minutes=1), RULES)
    assert "missed_checkin" in state.sessions["s1"].alerts  # day 2 is still unanswered
    day2 = parse_replay_line(Timeline().checkin(STOP + 2 * DAY + missed + 3).lines()[0])
    process(state, day2, now + timedelta(minutes=2), RULES)
    assert "missed_checkin" not in state.sessions["s1"].alerts


def test_a_later_start_ends_the_reminders_and_warnings_of_a_check_in_due_just_before_it() -> None:
    day2 = Timeline(session="s2").infusion(DAY + STOP - 30 + 60, "start", 50, product="Privigen")
    out = run_with_patient(
        infusion(), day2, until_minutes=STOP + DAY + RULES.checkin.missed_after_minutes + 1
    )
    asked = [(m.checkin_id, m.reminder) for m in prompts(out)]
    assert asked == [("s1:checkin:24h", False)]  # asked just before the start; no reminder during it
    assert not of(alerts(out), "missed_checkin")


def later_rules() -> RuleSet:
    """`later_after_hours = 72`: from day 4 on, one missed check-in goes on the nurses' list."""
    checkin = RULES.checkin.model_copy(update={"later_after_hours": 72.0, "later_source": "test"})
    return RULES.model_copy(update={"checkin": checkin})


def answered_through_day(day: int) -> Timeline:
    t = infusion()
    for d in range(1, day + 1):
        t.checkin(STOP + d * DAY + 30)
    return t


def test_a_later_missed_check_in_alone_is_listed_not_paged() -> None:
    # days 1-3 answered, day 4 missed, day 5 answered: day 4 is shown (info), never paged
    t = answered_through_day(3).checkin(STOP + 5 * DAY + 30)
    out = run_with_patient(t, until_minutes=STOP + 5 * DAY + 60, rules=later_rules())
    missed = of(alerts(out), "missed_checkin")
    assert [(m.status, m.severity.value, m.page) for m in missed] == [
        (AlertStatus.FIRING, "info", False),
        (AlertStatus.RESOLVED, "info", False),
    ]
    assert "Day-4" in missed[0].title
    assert not [m for m in alerts(out) if m.page]


def test_two_later_check_ins_missed_in_a_row_page() -> None:
    t = answered_through_day(3)
    out = run_with_patient(
        t, until_minutes=STOP + 5 * DAY + RULES.checkin.missed_after_minutes + 5, rules=later_rules()
    )
    missed = of(alerts(out), "missed_checkin")
    day5 = START + timedelta(minutes=STOP + 5 * DAY + RULES.checkin.missed_after_minutes)
    assert [(m.severity.value, m.page) for m in missed] == [("info", False), ("warning", True)]
    assert missed[-1].ts == day5 and "two check-ins in a row" in missed[-1].evidence.summary
    paged = [m for m in alerts(out) if m.page]
    assert [(m.condition.value, m.severity.value) for m in paged] == [
        ("missed_checkin", "warning")
    ]  # one page


def test_an_early_missed_check_in_still_pages_alone() -> None:
    out = run_with_patient(
        infusion(), until_minutes=STOP + DAY + RULES.checkin.missed_after_minutes + 5, rules=later_rules()
    )
    missed = of(alerts(out), "missed_checkin")
    assert [(m.severity.value, "Day-1" in m.title) for m in missed] == [("warning", True)]
    assert len([m for m in alerts(out) if m.page]) == 1
