"""The caseload board's fold and order (pure; the clock is an argument): phase, rate and rate step,
vitals freshness on the care schedule, check-ins after the stop, incidents with owner and note,
what needs a look first, and nothing of a vital's value kept."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agents.rules.loader import load_rules
from models.events import Checkin, Infusion, NurseAction, Profile, Vitals
from streams.apps.console.alertbook import AlertBook
from streams.apps.console.caseload import Caseload, board_json
from streams.apps.console.feed import Hub
from streams.apps.console.patient_settings import SettingActions
from tests.unit.streams.apps.console.test_alertbook import T0, alert, note

RULES = load_rules()


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def infusion(patient: str, minutes: float, action: str, rate: float | None = None) -> Infusion:
    return Infusion(
        type="infusion",
        patient_id=patient,
        session_id=f"{patient}-s1",
        ts=at(minutes),
        action=action,
        rate_ml_per_h=rate,
        product="Privigen",
    )


def vitals(patient: str, minutes: float) -> Vitals:
    return Vitals(
        type="vitals", patient_id=patient, session_id=f"{patient}-s1", ts=at(minutes), heart_rate=77
    )


def running(patient: str, vitals_at: tuple[float, ...] = (0,)) -> list[Any]:
    """Started at minute 1 at 30 mL/h, with readings at the minutes given."""
    return [*(vitals(patient, m) for m in vitals_at), infusion(patient, 1, "start", 30)]


def board(
    events: list[Any], now: float, book: AlertBook | None = None, settings: SettingActions | None = None
) -> dict[str, Any]:
    caseload = Caseload(RULES)
    for e in events:
        caseload.apply(e)
    return {r["patient_id"]: r for r in board_json(caseload, book or AlertBook(), at(now), settings)["rows"]}


def setting(kind: str, patient: str, minutes: float, hours: float, **what: Any) -> NurseAction:
    """A charge nurse's limit or snooze at `minutes`, in force for `hours`."""
    body = {"until": at(minutes + hours * 60), "reason": "usual for this patient", **what}
    return NurseAction(type=kind, patient_id=patient, by="rn-cy", ts=at(minutes), **{kind: body})


def order(events: list[Any], now: float, book: AlertBook | None = None) -> list[str]:
    caseload = Caseload(RULES)
    for e in events:
        caseload.apply(e)
    return [r.patient_id for r in caseload.rows(at(now), book or AlertBook())]


def test_an_infusion_shows_phase_rate_rate_step_and_vitals_freshness_on_the_care_schedule() -> None:
    events = [*running("pt-a"), infusion("pt-a", 20, "rate_change", 60)]
    row = board(events, now=22)["pt-a"]
    assert (row["phase"], row["rate_ml_per_h"], row["product"]) == ("infusing", 60, "Privigen")
    assert row["minutes_since_rate_step"] == 2 and row["recent_rate_step"] is True
    assert row["minutes_since_vitals"] == 22 and row["last_vitals"] == "2026-11-24T10:00:00Z"
    # the set 15 min after the start (minute 16) is not taken by the reading at 0; in its grace
    assert (row["vitals_status"], row["next_vitals_set"], row["next_vitals_due"]) == (
        "due",
        "after-start",
        "2026-11-24T10:16:00Z",
    )
    assert row["minutes_to_next_vitals"] == -6
    # the rate-step set (minute 20) is due within its grace: one group, overdue at 20 + 15 min
    assert row["vitals_late"] == "2026-11-24T10:35:00Z"
    assert board(events, now=34)["pt-a"]["vitals_status"] == "due"
    assert board(events, now=36)["pt-a"]["vitals_status"] == "overdue"


def test_a_new_reading_counts_for_the_sets_due_and_the_next_one_is_the_steady_set() -> None:
    events = [*running("pt-a", (0, 21)), infusion("pt-a", 20, "rate_change", 60)]
    row = board(events, now=21)["pt-a"]
    assert (row["minutes_since_vitals"], row["vitals_status"]) == (0, "ok")
    # hourly at a steady rate after the last rate increase (minute 20)
    assert (row["next_vitals_set"], row["next_vitals_due"], row["minutes_to_next_vitals"]) == (
        "steady",
        "2026-11-24T11:20:00Z",
        59,
    )
    assert board(events, now=60)["pt-a"]["recent_rate_step"] is False  # past the rate-step window


def test_a_high_risk_patient_falls_overdue_sooner_as_the_rules_say() -> None:
    profile = Profile(
        type="profile", patient_id="pt-h", ts=at(-1), risk_factors=["first_infusion"], weight_kg=70
    )
    plain, risky = board(running("pt-p"), now=25)["pt-p"], board([profile, *running("pt-h")], now=25)["pt-h"]
    assert (plain["vitals_status"], risky["vitals_status"]) == ("due", "overdue")  # grace 15 min x 0.5


def test_after_the_stop_the_post_window_shows_the_next_check_in_until_the_window_ends() -> None:
    events = [*running("pt-a"), infusion("pt-a", 120, "stop")]
    row = board(events, now=60 * 5)["pt-a"]
    assert row["phase"] == "post-early" and row["next_checkin_day"] == 1
    assert row["next_checkin_due"] == "2026-11-25T12:00:00Z"  # 24 h after the stop at 12:00
    answered = Checkin(type="checkin", patient_id="pt-a", session_id="pt-a-s1", ts=at(120 + 24 * 60))
    later = board([*events, answered], now=120 + 25 * 60)["pt-a"]
    assert later["phase"] == "post-late" and later["next_checkin_day"] == 2
    assert board(events, now=120 + 11 * 24 * 60) == {}  # past post_late_days: off the board


def test_the_fold_keeps_no_vital_value_nor_the_profile_beyond_its_risk_factors() -> None:
    caseload = Caseload(RULES)
    profile = Profile(type="profile", patient_id="pt-a", ts=at(-1), risk_factors=["diabetes"], weight_kg=88)
    for e in [profile, *running("pt-a")]:
        caseload.apply(e)
    state = caseload.patients["pt-a"]
    text = state.model_dump_json()
    assert "77" not in text and "88" not in text
    assert state.sessions["pt-a-s1"].readings == [] and state.profile is not None
    assert state.profile.risk_factors == ["diabetes"]


def test_incidents_show_with_owner_and_the_latest_note_as_handoff() -> None:
    book = AlertBook()
    book.apply(alert("pt-a-s1", "fever", "urgent", 30, status="acknowledged", by="rn-ann"))
    book.note(note("pt-a-s1:fever:1", "rn-ann", 31, "called, paracetamol given"))
    book.apply(
        alert("pt-b-s1", "tachycardia", "warning", 30, status="acknowledged", by="rn-ann", owner="rn-bob")
    )
    rows = board([*running("pt-a"), *running("pt-b")], now=35, book=book)
    assert rows["pt-a"]["owner"] == "rn-ann"  # no owner field yet: the acknowledging nurse
    assert rows["pt-b"]["owner"] == "rn-bob"  # the owner once handed over
    assert rows["pt-a"]["note"] == {
        "by": "rn-ann",
        "ts": "2026-11-24T10:31:00Z",
        "note": "called, paracetamol given",
    }
    [incident] = rows["pt-a"]["incidents"]
    assert (incident["severity"], incident["status"], incident["needs_look"]) == (
        "urgent",
        "acknowledged",
        False,
    )


def test_a_patient_with_an_open_incident_and_no_followed_session_is_on_the_board() -> None:
    book = AlertBook()
    book.apply(alert("pt-z-s1", "fever", "warning", 0))
    assert board([], now=5, book=book)["pt-z"]["phase"] is None


def test_the_patient_who_needs_a_look_comes_first() -> None:
    book = AlertBook()
    book.apply(alert("pt-crit-s1", "anaphylaxis", "critical", 40))
    book.apply(alert("pt-warn-s1", "tachycardia", "warning", 40))
    book.apply(alert("pt-ackd-s1", "fever", "urgent", 40, status="acknowledged", by="rn-ann"))
    book.apply(alert("pt-info-s1", "baseline_missing", "info", 40))  # nothing to do yet
    events = [
        *running("pt-crit", (0, 40)),
        *running("pt-late"),  # the after-start set (minute 16) past its grace at minute 45
        *running("pt-warn", (0, 40)),
        *running("pt-step", (0, 40)),
        infusion("pt-step", 38, "rate_change", 60),
        *running("pt-ackd", (0, 40)),
        *running("pt-info", (0, 40)),
        *running("pt-calm", (0, 44)),
        *running("pt-calm2", (0, 40)),
        *running("pt-post", (0, 30)),
        infusion("pt-post", 31, "stop"),
        vitals("pt-post", 44),
    ]
    assert order(events, now=45, book=book) == [
        "pt-crit",  # an unacknowledged critical incident
        "pt-late",  # vitals overdue
        "pt-warn",  # a warning nobody has acknowledged
        "pt-step",  # a rate increase 7 min ago
        "pt-ackd",  # an acknowledged incident
        "pt-info",  # an information alert: after the acknowledged urgent one
        "pt-calm2",  # infusing, nothing outstanding: the longest since vitals first
        "pt-calm",
        "pt-post",  # in the post-infusion window
    ]


def test_sessions_past_their_window_are_pruned() -> None:
    caseload = Caseload(RULES)
    for e in [*running("pt-a"), infusion("pt-a", 60, "stop")]:
        caseload.apply(e)
    assert caseload.prune(at(60 + 5 * 24 * 60)) is False and caseload.patients
    assert caseload.prune(at(60 + 11 * 24 * 60)) is True and not caseload.patients


def test_sessions_that_never_started_go_after_the_session_timeout_and_a_profile_waits_for_its_start() -> None:
    caseload = Caseload(RULES)
    profile = Profile(type="profile", patient_id="pt-b", ts=at(0), risk_factors=["first_infusion"])
    for e in [vitals("pt-a", 0), profile]:
        caseload.apply(e)
    assert caseload.prune(at(11 * 60)) is False and set(caseload.patients) == {"pt-a", "pt-b"}
    assert caseload.prune(at(13 * 60)) is True and set(caseload.patients) == {"pt-b"}
    caseload.prune(at(caseload.history_hours * 60 + 1))
    assert not caseload.patients


def test_a_patients_limits_and_snoozes_in_force_show_on_its_row_until_they_expire() -> None:
    settings = SettingActions()
    settings.take(setting("limit", "pt-a", 5, 2, vital="spo2", side="low", value=91))
    settings.take(setting("snooze", "pt-a", 10, 1, condition="tachycardia"))
    settings.take(setting("limit", "pt-b", 5, 8, vital="spo2", side="low", value=90))
    events = [*running("pt-a", (0, 30, 60, 90, 120)), *running("pt-b")]
    rows = board(events, now=30, settings=settings)
    limit, snooze = rows["pt-a"]["in_force"]
    assert (limit["kind"], limit["key"], limit["until"]) == (
        "limit",
        "pt-a:limit:spo2:low",
        "2026-11-24T12:05:00Z",
    )
    assert limit["text"].startswith("patient limit SpO2 < 91 set by rn-cy until 2026-11-24 12:05 UTC")
    assert (snooze["kind"], snooze["key"], snooze["until"]) == (
        "snooze",
        "pt-a:snooze:tachycardia",
        "2026-11-24T11:10:00Z",
    )
    assert snooze["text"].startswith("tachycardia snoozed by rn-cy")
    assert [s["key"] for s in rows["pt-b"]["in_force"]] == ["pt-b:limit:spo2:low"]  # each its own
    # at the board's clock: the snooze has expired at 11:10, the limit at 12:05
    assert [s["kind"] for s in board(events, now=71, settings=settings)["pt-a"]["in_force"]] == ["limit"]
    assert board(events, now=125, settings=settings)["pt-a"]["in_force"] == []
    assert board(events, now=30)["pt-a"]["in_force"] == []  # none read


def test_a_limit_or_snooze_read_redraws_the_board() -> None:
    hub, told = Hub(), []
    hub.listeners.append(lambda: told.append(1))
    hub.on_action(setting("snooze", "pt-a", 0, 1, condition="tachycardia"))
    assert told == [1] and hub.setting_actions.in_force("pt-a", at(1), RULES)["snoozes"]


def test_the_quiet_after_a_nurses_resolution_shows_on_the_row_until_it_ends() -> None:
    """A hypoxemia warning resolved as not needed at minute 20: quiet for the rule file's time; the
    stop ends it earlier; a resolution as needing action starts none; the latest one decides."""
    quiet = RULES.incidents.quiet_after_resolve
    assert quiet is not None
    settings = SettingActions()
    resolved = quiet_resolution("pt-a-s1", 20)
    assert settings.take_resolution(resolved)
    unsaid = alert("pt-c-s1", "hypoxemia", "warning", 20, "resolved", by="rn-ana", outcome="not_needed")
    settings.take_resolution(unsaid)  # the rules started no quiet (its message says none)
    assert not settings.take_resolution(alert("pt-a-s1", "hypoxemia", "warning", 5))  # not a resolution
    settings.take_resolution(
        alert("pt-b-s1", "hypoxemia", "urgent", 20, "resolved", by="rn-ana", outcome="needed_action")
    )
    events = [*running("pt-a", (0, 30, 60, 90)), *running("pt-b", (0, 30, 60, 90))]
    rows = board(events, now=30, settings=settings)
    (shown,) = rows["pt-a"]["in_force"]
    assert (shown["kind"], shown["key"]) == ("quiet", "pt-a-s1:hypoxemia:1:quiet")
    assert shown["until"] == board_time(20 + quiet.max_minutes)
    assert shown["text"].startswith("hypoxemia resolved by rn-ana as not_needed: kept quiet at warning")
    assert rows["pt-b"]["in_force"] == []
    assert settings.quiets("pt-c", at(30), RULES, {}) == []
    assert settings.quiets("pt-a", at(30), RULES, {"pt-a-s1": (at(0), None)})  # started before it
    assert settings.quiets("pt-a", at(30), RULES, {"pt-a-s1": (at(25), None)}) == []  # ends at a start
    assert board(events, now=20 + quiet.max_minutes, settings=settings)["pt-a"]["in_force"] == []
    stopped = [*events, infusion("pt-a", 40, "stop")]
    assert board(stopped, now=41, settings=settings)["pt-a"]["in_force"] == []
    settings.take_resolution(
        alert("pt-a-s1", "hypoxemia", "urgent", 35, "resolved", by="rn-ana", outcome="needed_action", n=2)
    )
    assert board(events, now=36, settings=settings)["pt-a"]["in_force"] == []


def quiet_resolution(session: str, minutes: float) -> Any:
    """A hypoxemia warning resolved as not needed, its evidence saying the quiet it started (as the
    rules word it)."""
    summary = "SpO2 92%; kept quiet at warning or below until the pump stops, at most until later"
    return alert(
        session,
        "hypoxemia",
        "warning",
        minutes,
        "resolved",
        by="rn-ana",
        outcome="not_needed",
        evidence={"summary": summary, "phase": "infusing"},
    )


def board_time(minutes: float) -> str:
    return at(minutes).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_resolution_read_redraws_the_board() -> None:
    hub, told = Hub(), []
    hub.listeners.append(lambda: told.append(1))
    hub.on_alert(quiet_resolution("pt-a-s1", 20))
    assert told == [1] and hub.setting_actions.quiets("pt-a", at(21), RULES, {})
