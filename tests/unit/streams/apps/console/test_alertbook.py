"""The console's alert book: open alerts by severity then age, resolution, who acted, and the
folding of incidents (contract v2) into groups with what is new after an acknowledgement (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.alerts import Alert
from models.events import NurseAction
from streams.apps.console.alertbook import AlertBook, AlertEntry, Group, look_order

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def alert(
    session: str, condition: str, severity: str, minutes: float, status: str = "firing", **extra: Any
) -> Alert:
    return Alert.model_validate(
        {
            "alert_id": f"{session}:{condition}:{extra.pop('n', 1)}",
            "patient_id": session.removesuffix("-s1"),
            "session_id": session,
            "status": status,
            "severity": severity,
            "condition": condition,
            "ts": T0 + timedelta(minutes=minutes),
            "title": f"{condition} title",
            "evidence": {"summary": f"{condition} seen", "phase": "infusion"},
            "action": "call the patient",
            "rule": {"id": condition, "version": "1.1.0"},
            **extra,
        }
    )


def note(alert_id: str, by: str, minutes: float, text: str = "called") -> NurseAction:
    return NurseAction(
        type="note",
        alert_id=alert_id,
        patient_id=alert_id.split("-s1")[0],
        by=by,
        ts=T0 + timedelta(minutes=minutes),
        note=text,
    )


def ids(entries: list[Any]) -> list[str]:
    return [e.alert.alert_id for e in entries]


def test_open_alerts_are_ordered_by_severity_then_by_age_oldest_first() -> None:
    book = AlertBook()
    for a in (
        alert("pt-a-s1", "fever", "urgent", 5),
        alert("pt-b-s1", "tachycardia", "warning", 1),
        alert("pt-c-s1", "anaphylaxis", "critical", 9),
        alert("pt-d-s1", "hypotension", "urgent", 2),
        alert("pt-e-s1", "anaphylaxis", "critical", 3),
        alert("pt-f-s1", "baseline_missing", "info", 0),
    ):
        book.apply(a)
    assert ids(book.open_alerts()) == [
        "pt-e-s1:anaphylaxis:1",
        "pt-c-s1:anaphylaxis:1",
        "pt-d-s1:hypotension:1",
        "pt-a-s1:fever:1",
        "pt-b-s1:tachycardia:1",
        "pt-f-s1:baseline_missing:1",
    ]


def test_an_update_keeps_the_first_firing_time_and_a_rise_in_severity_moves_the_alert_up() -> None:
    book = AlertBook()
    book.apply(alert("pt-a-s1", "fever", "warning", 0))
    book.apply(alert("pt-b-s1", "fever", "urgent", 5))
    book.apply(alert("pt-a-s1", "fever", "critical", 20))  # severity only rises
    book.apply(alert("pt-a-s1", "fever", "critical", 25, status="escalated", escalation_level=1))
    first = book.open_alerts()[0]
    assert first.alert.alert_id == "pt-a-s1:fever:1"
    assert (first.alert.status.value, first.alert.escalation_level) == ("escalated", 1)
    assert first.first_fired == T0
    view = first.view()
    assert view["first_fired"] == "2026-11-24T10:00:00Z"
    assert view["severity"] == "critical" and view["evidence"]["summary"] == "fever seen"


def test_acknowledged_stays_open_and_resolution_moves_it_to_recently_resolved_with_who_acted() -> None:
    book = AlertBook()
    book.apply(alert("pt-a-s1", "anaphylaxis", "critical", 0))
    book.apply(alert("pt-a-s1", "anaphylaxis", "critical", 2, status="acknowledged", by="rn-ana", note="911"))
    assert book.open_alerts()[0].acted_by == ["rn-ana"]
    book.note(note("pt-a-s1:anaphylaxis:1", "rn-bo", 3, "epinephrine given"))
    book.apply(alert("pt-a-s1", "anaphylaxis", "critical", 30, status="resolved", by="rn-ana"))
    assert book.open_alerts() == []
    (resolved,) = book.recently_resolved()
    assert resolved.acted_by == ["rn-ana", "rn-bo"]
    view = resolved.view()
    assert view["status"] == "resolved" and view["acted_by"] == ["rn-ana", "rn-bo"]
    assert view["notes"] == [{"by": "rn-bo", "ts": "2026-11-24T10:03:00Z", "note": "epinephrine given"}]
    assert view["first_fired"] == "2026-11-24T10:00:00Z"


def test_an_alert_resolved_by_itself_has_nobody_acting_and_a_later_message_cannot_reopen_it() -> None:
    book = AlertBook()
    book.apply(alert("pt-a-s1", "fever", "urgent", 0))
    book.apply(alert("pt-a-s1", "fever", "urgent", 20, status="resolved"))
    assert book.recently_resolved()[0].acted_by == []
    assert book.apply(alert("pt-a-s1", "fever", "urgent", 0)) is None  # a late duplicate of the firing
    assert book.open_alerts() == []
    assert book.apply(alert("pt-a-s1", "fever", "urgent", 20, status="resolved")) is not None  # same state
    assert len(book.recently_resolved()) == 1
    again = book.apply(alert("pt-a-s1", "fever", "urgent", 40, n=2))  # fires again: a new alert id
    assert again is not None and ids(book.open_alerts()) == ["pt-a-s1:fever:2"]


def test_recently_resolved_is_newest_first_and_bounded() -> None:
    book = AlertBook(resolved_shown=3)
    for i in range(5):
        book.apply(alert(f"pt-{i}-s1", "fever", "urgent", i))
        book.apply(alert(f"pt-{i}-s1", "fever", "urgent", 10 + i, status="resolved"))
    assert ids(book.recently_resolved()) == ["pt-4-s1:fever:1", "pt-3-s1:fever:1", "pt-2-s1:fever:1"]
    assert book.apply(alert("pt-0-s1", "fever", "urgent", 10, status="resolved")) is None  # dropped, closed
    assert len(book.snapshot()["resolved"]) == 3


def test_notes_count_once_and_ack_or_resolve_actions_change_nothing_until_the_lifecycle_says_so() -> None:
    book = AlertBook()
    book.apply(alert("pt-a-s1", "fever", "urgent", 0))
    action = note("pt-a-s1:fever:1", "rn-ana", 1)
    assert book.note(action) is not None
    assert book.note(action) is None  # the same action read twice
    ack = NurseAction(type="ack", alert_id="pt-a-s1:fever:1", patient_id="pt-a", by="rn-bo", ts=T0)
    assert book.note(ack) is None
    entry = book.open_alerts()[0]
    assert entry.alert.status.value == "firing" and entry.acted_by == ["rn-ana"]


def test_a_note_read_before_its_alert_is_kept_for_it() -> None:
    book = AlertBook()
    assert book.note(note("pt-a-s1:fever:1", "rn-ana", 1)) is None
    entry = book.apply(alert("pt-a-s1", "fever", "urgent", 0))
    assert entry is not None and entry.acted_by == ["rn-ana"] and len(entry.notes) == 1


def test_the_snapshot_is_the_contract_json() -> None:
    book = AlertBook()
    book.apply(alert("pt-a-s1", "fever", "urgent", 0))
    snapshot = book.snapshot()
    assert set(snapshot) == {"open", "resolved", "groups"}
    (view,) = snapshot["open"]
    assert {"alert_id", "patient_id", "session_id", "status", "severity", "condition", "ts"} <= set(view)
    assert {"escalation_level", "title", "evidence", "action", "rule", "first_fired", "acted_by"} <= set(view)
    assert view["ts"] == "2026-11-24T10:00:00Z"


# Incidents (contract v2): hand-built messages shaped as the rules send them (agents/rules/incidents.py).


def member(
    patient: str,
    condition: str,
    severity: str,
    minutes: float,
    status: str = "firing",
    *,
    incident: int = 1,
    page: bool = False,
    **extra: Any,
) -> Alert:
    """A finding of `patient`'s incident `incident`."""
    return alert(f"{patient}-s1", condition, severity, minutes, status, page=page, **extra).model_copy(
        update={"incident_id": f"{patient}:incident:{incident}"}
    )


def incident(
    patient: str, severity: str, minutes: float, status: str = "firing", *, n: int = 1, **extra: Any
) -> Alert:
    """The incident's own state: condition `incident`, alert_id == incident_id."""
    incident_id = f"{patient}:incident:{n}"
    return Alert.model_validate(
        {
            "alert_id": incident_id,
            "incident_id": incident_id,
            "patient_id": patient,
            "session_id": f"{patient}-s1",
            "status": status,
            "severity": severity,
            "condition": "incident",
            "ts": T0 + timedelta(minutes=minutes),
            "title": f"Incident ({severity})",
            "evidence": {"summary": "findings of one episode", "phase": "infusion"},
            "action": "call the patient",
            "rule": {"id": "incidents", "version": "1.1.0"},
            **extra,
        }
    )


def anaphylaxis_incident(book: AlertBook, patient: str = "pt-a") -> None:
    """hives (warning) then anaphylaxis (critical) with a covered hypotension: one incident."""
    book.apply(member(patient, "infusion_reaction", "warning", 2, page=True))
    book.apply(incident(patient, "warning", 2))
    book.apply(member(patient, "anaphylaxis", "critical", 3, page=True))
    book.apply(member(patient, "hypotension", "critical", 3))  # covered: shown, not paged
    book.apply(incident(patient, "critical", 3))


def acknowledge(book: AlertBook, patient: str, minutes: float, *conditions: str, by: str = "rn-ana") -> None:
    """What the rules send for an ack naming the incident: every open member, then the incident."""
    for condition in conditions:
        current = book.get(f"{patient}-s1:{condition}:1")
        assert current is not None
        book.apply(
            updated(
                current.alert, status="acknowledged", by=by, page=False, ts=T0 + timedelta(minutes=minutes)
            )
        )
    head = book.get(f"{patient}:incident:1")
    assert head is not None
    book.apply(incident(patient, head.alert.severity.value, minutes, "acknowledged", by=by))


def updated(message: Alert, **update: Any) -> Alert:
    """The same alert's next message (validated, as the feed reads it)."""
    return Alert.model_validate({**message.model_dump(), **update})


def keys(groups: list[Group]) -> list[tuple[str, list[str]]]:
    return [(g.key, [m.alert.alert_id for m in g.members]) for g in groups]


def test_an_incident_and_its_members_fold_into_one_group_and_other_alerts_stand_alone() -> None:
    book = AlertBook()
    anaphylaxis_incident(book)
    book.apply(alert("pt-b-s1", "fever", "urgent", 1))  # written before v2: no incident_id, no page
    book.apply(alert("pt-a-s1", "high_risk_session", "info", 0))  # information: no incident
    assert keys(book.groups()) == [
        (
            "pt-a:incident:1",
            ["pt-a-s1:anaphylaxis:1", "pt-a-s1:hypotension:1", "pt-a-s1:infusion_reaction:1"],
        ),
        ("pt-b-s1:fever:1", []),
        ("pt-a-s1:high_risk_session:1", []),
    ]
    (group,) = [g for g in book.groups() if g.is_incident]
    assert group.head.alert.severity.value == "critical" and group.head.first_fired == T0 + timedelta(
        minutes=2
    )
    assert (group.needs_look, group.new) == (True, False)
    # the alert-level book still holds every alert, the incident's own message included
    assert len(book.open_alerts()) == 6
    lone = book.get("pt-b-s1:fever:1")
    assert lone is not None and (lone.incident_id, lone.alert.page, lone.paged_at) == (None, False, None)


def test_the_incident_id_finds_the_incident_message_for_a_nurse_action() -> None:
    book = AlertBook()
    anaphylaxis_incident(book)
    head = book.get("pt-a:incident:1")
    assert head is not None and head.is_incident and head.is_open
    assert head.alert.patient_id == "pt-a" and head.incident_id is None  # it is no member of itself


def test_members_paged_are_marked_with_when_and_covered_or_pending_members_are_not() -> None:
    book = AlertBook()
    anaphylaxis_incident(book)
    acknowledge(book, "pt-a", 4, "infusion_reaction", "anaphylaxis", "hypotension")
    paged = {m.alert.condition.value: m.paged_at for m in book.groups()[0].members}
    assert paged == {
        "anaphylaxis": T0 + timedelta(minutes=3),  # the acknowledged message (page false) keeps it
        "infusion_reaction": T0 + timedelta(minutes=2),
        "hypotension": None,
    }
    view = book.view(book.groups()[0].members[0])
    assert view["paged_at"] == "2026-11-24T10:03:00Z" and view["incident_id"] == "pt-a:incident:1"


def test_members_that_arrive_before_their_incident_message_stand_alone_until_it_comes() -> None:
    book = AlertBook()
    book.apply(member("pt-a", "hypotension", "urgent", 1))  # pending: the incident has sent nothing yet
    assert keys(book.groups()) == [("pt-a-s1:hypotension:1", [])]
    first = book.get("pt-a-s1:hypotension:1")
    assert first is not None and book.changed_with(first) == [first]
    book.apply(member("pt-a", "hypotension", "urgent", 2, page=True))  # confirmed
    book.apply(incident("pt-a", "urgent", 2))
    assert keys(book.groups()) == [("pt-a:incident:1", ["pt-a-s1:hypotension:1"])]
    assert book.get("pt-a-s1:hypotension:1") is not None
    assert [e.alert.alert_id for e in book.changed_with(first)] == [
        "pt-a-s1:hypotension:1",
        "pt-a:incident:1",
    ]


def test_acknowledging_the_incident_shows_the_group_acknowledged_below_what_needs_a_look() -> None:
    book = AlertBook()
    anaphylaxis_incident(book, "pt-a")
    book.apply(member("pt-c", "fever", "warning", 20, page=True))
    book.apply(incident("pt-c", "warning", 20))
    assert [g.key for g in book.groups()] == ["pt-a:incident:1", "pt-c:incident:1"]  # critical first
    acknowledge(book, "pt-a", 4, "infusion_reaction", "anaphylaxis", "hypotension")
    (acked,) = [g for g in book.groups() if g.key == "pt-a:incident:1"]
    assert {m.alert.status.value for m in [acked.head, *acked.members]} == {"acknowledged"}
    assert acked.head.acted_by == ["rn-ana"] and (acked.needs_look, acked.new) == (False, False)
    # an unacknowledged warning needs a look before an acknowledged critical incident
    assert [g.key for g in book.groups()] == ["pt-c:incident:1", "pt-a:incident:1"]


def test_a_new_member_paging_after_the_acknowledgement_is_new_until_the_next_acknowledgement() -> None:
    book = AlertBook()
    anaphylaxis_incident(book, "pt-a")
    book.apply(alert("pt-z-s1", "fever", "critical", 0))  # another patient's critical alert, older
    acknowledge(book, "pt-a", 4, "infusion_reaction", "anaphylaxis", "hypotension")
    book.apply(member("pt-a", "thrombosis", "critical", 20, page=True))  # the rules: the member, then
    book.apply(incident("pt-a", "critical", 20))  # the incident back to firing
    (group,) = [g for g in book.groups() if g.key == "pt-a:incident:1"]
    assert (group.new, group.needs_look, group.head.new_after_ack) == (True, True, True)
    assert group.members[0].alert.alert_id == "pt-a-s1:thrombosis:1"  # the new member first
    assert [m.new_after_ack for m in group.members] == [True, False, False, False]
    # among what needs a look at one severity, the new comes before the older
    assert [g.key for g in book.groups()] == ["pt-a:incident:1", "pt-z-s1:fever:1"]
    head_view = book.view(group.head)
    assert (head_view["new"], head_view["needs_look"], head_view["status"]) == (True, True, "firing")
    assert head_view["members"][0] == "pt-a-s1:thrombosis:1"
    new_view = book.view(group.members[0])
    assert (new_view["new_after_ack"], new_view["paged_at"]) == (True, "2026-11-24T10:20:00Z")
    (as_json,) = [g for g in book.snapshot()["groups"] if g["key"] == "pt-a:incident:1"]
    assert as_json == {
        "key": "pt-a:incident:1",
        "incident_id": "pt-a:incident:1",
        "head": "pt-a:incident:1",
        "members": head_view["members"],
        "needs_look": True,
        "new": True,
    }
    # the incident escalates while nobody looks: still new
    book.apply(incident("pt-a", "critical", 25, "escalated", escalation_level=1, page=True))
    assert (book.groups()[0].key, book.groups()[0].new) == ("pt-a:incident:1", True)
    # acknowledged again: nothing is new any more
    acknowledge(book, "pt-a", 26, "thrombosis")
    (group,) = [g for g in book.groups() if g.key == "pt-a:incident:1"]
    assert (group.new, group.needs_look) == (False, False)
    assert not any(m.new_after_ack for m in [group.head, *group.members])


def test_a_covered_member_joining_an_acknowledged_incident_is_shown_but_not_new() -> None:
    book = AlertBook()
    anaphylaxis_incident(book)
    acknowledge(book, "pt-a", 4, "infusion_reaction", "anaphylaxis", "hypotension")
    book.apply(member("pt-a", "hypoxemia", "urgent", 6))  # page false: covered by the anaphylaxis
    (group,) = book.groups()
    assert "pt-a-s1:hypoxemia:1" in [m.alert.alert_id for m in group.members]
    assert (group.new, group.needs_look, group.head.alert.status.value) == (False, False, "acknowledged")


def test_a_member_acknowledgement_counts_as_the_incidents_and_a_later_page_is_new() -> None:
    """An ack of one member acknowledges the incident in the rules: the book remembers it too."""
    book = AlertBook()
    book.apply(member("pt-a", "fever", "urgent", 0, page=True))
    acked = book.get("pt-a-s1:fever:1")
    assert acked is not None
    book.apply(updated(acked.alert, status="acknowledged", by="rn-bo", page=False))
    book.apply(member("pt-a", "respiratory_compromise", "critical", 30, page=True))
    new = book.get("pt-a-s1:respiratory_compromise:1")
    assert new is not None and new.new_after_ack


def test_resolving_the_incident_takes_the_group_off_the_open_list_and_the_order_is_kept() -> None:
    book = AlertBook()
    anaphylaxis_incident(book)
    left = ["pt-a-s1:anaphylaxis:1", "pt-a-s1:hypotension:1", "pt-a-s1:infusion_reaction:1"]
    for alert_id in list(left):
        current = book.get(alert_id)
        assert current is not None
        book.apply(updated(current.alert, status="resolved", by="rn-ana", page=False))
        left.remove(alert_id)
        head = book.get("pt-a:incident:1")
        assert head is not None and [m.alert.alert_id for m in book.members_of(head)] == left
    book.apply(incident("pt-a", "critical", 30, "resolved", by="rn-ana"))
    assert book.groups() == [] and book.open_alerts() == []
    assert "pt-a:incident:1" in [e.alert.alert_id for e in book.recently_resolved()]
    assert book.members == {}


def test_an_alert_that_joins_an_incident_later_moves_into_it() -> None:
    """stale_data fires as information (no incident), then as a warning it joins incident 2."""
    book = AlertBook()
    book.apply(alert("pt-a-s1", "stale_data", "info", 0))
    book.apply(member("pt-a", "stale_data", "warning", 7, incident=2, page=True))
    book.apply(incident("pt-a", "warning", 7, n=2))
    assert keys(book.groups()) == [("pt-a:incident:2", ["pt-a-s1:stale_data:1"])]


def test_the_order_string_sorts_as_the_times_do_to_the_microsecond() -> None:
    def entry(condition: str, severity: str, minutes: float, status: str = "firing") -> AlertEntry:
        a = alert("pt-a-s1", condition, severity, minutes, status)
        return AlertEntry(alert=a, first_fired=a.ts)

    later = entry("fever", "urgent", 0.0001)  # 6 ms after T0: "...00.006000Z" against "...00.000000Z"
    earlier = entry("tachycardia", "urgent", 0)
    critical = entry("anaphylaxis", "critical", 5)
    acked = entry("hypotension", "critical", 0, "acknowledged")
    ordered = sorted([later, acked, critical, earlier], key=lambda e: look_order(e, e.needs_look, False))
    assert [e.alert.condition.value for e in ordered] == [
        "anaphylaxis",
        "tachycardia",
        "fever",
        "hypotension",
    ]
    assert look_order(critical, True, True) < look_order(critical, True, False)
    # something new never jumps a more severe alert that nobody has acknowledged
    assert look_order(critical, True, False) < look_order(later, True, True)
