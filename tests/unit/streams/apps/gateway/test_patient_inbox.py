"""The patient inbox: per patient, numbered, repeats dropped, bounded, a long poll that wakes."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from models.alerts import RuleRef
from models.events import SymptomName
from models.patient_messages import PatientMessage, PatientMessageKind
from streams.apps.gateway.app_routes import STATIC_DIR
from streams.apps.gateway.patient_inbox import KEPT_PER_PATIENT, PatientInbox


def message(patient: str, n: int) -> PatientMessage:
    return PatientMessage(
        message_id=f"m-{n}",
        patient_id=patient,
        session_id="s1",
        kind=PatientMessageKind.VITALS_DUE,
        ts=datetime(2026, 12, 7, 10, tzinfo=UTC),
        text="Time for your vitals",
        rule=RuleRef(id="patient", version="t"),
    )


def test_messages_are_numbered_per_inbox_and_read_per_patient() -> None:
    inbox = PatientInbox()
    assert inbox.add(message("a", 1)) and inbox.add(message("b", 1)) and inbox.add(message("a", 2))
    assert [(n, m.message_id) for n, m in inbox.after("a", 0)] == [(1, "m-1"), (3, "m-2")]
    assert [n for n, _ in inbox.after("a", 1)] == [3]
    assert inbox.after("c", 0) == []


def test_a_repeat_is_dropped_and_the_oldest_go_first() -> None:
    inbox = PatientInbox()
    assert not (inbox.add(message("a", 1)) and inbox.add(message("a", 1)))
    for n in range(2, KEPT_PER_PATIENT + 3):
        inbox.add(message("a", n))
    kept = inbox.after("a", 0)
    assert len(kept) == KEPT_PER_PATIENT and kept[0][1].message_id == "m-3"
    assert inbox.add(message("a", 1))  # forgotten with its message: a very old repeat comes back once


async def test_a_long_poll_wakes_on_the_patients_next_message_only() -> None:
    inbox = PatientInbox()
    waiting = asyncio.create_task(inbox.wait("a", 0, 5.0))
    await asyncio.sleep(0)
    inbox.add(message("b", 1))
    await asyncio.sleep(0)
    assert not waiting.done()
    inbox.add(message("a", 2))
    assert [m.message_id for _, m in await waiting] == ["m-2"]
    assert await inbox.wait("a", 2, 0.01) == []


def test_the_app_offers_every_symptom_of_the_contract() -> None:
    offered = set(re.findall(r'\["([a-z_]+)", "', (STATIC_DIR / "app.js").read_text()))
    assert {s.value for s in SymptomName} - {"other"} <= offered
