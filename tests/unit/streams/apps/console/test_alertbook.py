"""The console's alert book: open alerts by severity then age, resolution, who acted (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from models.alerts import Alert
from models.events import NurseAction
from streams.apps.console.alertbook import AlertBook

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
    assert set(snapshot) == {"open", "resolved"}
    (view,) = snapshot["open"]
    assert {"alert_id", "patient_id", "session_id", "status", "severity", "condition", "ts"} <= set(view)
    assert {"escalation_level", "title", "evidence", "action", "rule", "first_fired", "acted_by"} <= set(view)
    assert view["ts"] == "2026-11-24T10:00:00Z"
