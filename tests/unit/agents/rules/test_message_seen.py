"""The app showed the patient a message: the nurse sees it in the incident, nothing pages."""

from __future__ import annotations

from tests.builders import Timeline, of, run


def urgent_incident() -> Timeline:
    return Timeline().baseline(-10).start_infusion().symptom(20, "chest_pain", "severe")


def test_a_seen_receipt_shows_in_the_incident_without_a_page() -> None:
    first = of(run(urgent_incident()), "incident")[0]
    t = urgent_incident()
    t._add(22, type="message_seen", message_id="m-1", incident_id=first.alert_id)
    after = of(run(t), "incident")
    seen = [m for m in after if m.note and "seen by the patient" in m.note]
    assert len(seen) == 1 and not seen[0].page
    assert "the patient saw it on the app" in seen[0].evidence.summary


def test_a_seen_receipt_of_an_unknown_incident_changes_nothing() -> None:
    t = urgent_incident()
    t._add(22, type="message_seen", message_id="m-1", incident_id="pt-1:incident:99")
    assert run(t) == run(urgent_incident())
