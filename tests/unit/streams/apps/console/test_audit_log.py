"""The console's side of the audit log: which patients an answer shows."""

from __future__ import annotations

from streams.apps.console.audit_log import patients_shown


def test_the_patients_of_an_alert_list() -> None:
    snapshot = {
        "open": [{"patient_id": "pt-1"}, {"patient_id": "pt-2"}],
        "resolved": [{"patient_id": "pt-3"}, {"patient_id": "-"}],
        "groups": [{"key": "x"}],
    }
    assert patients_shown(snapshot) == ["pt-1", "pt-2", "pt-3"]


def test_the_patient_of_one_alert_view_and_the_patients_of_a_board() -> None:
    assert patients_shown({"patient_id": "pt-4", "alert_id": "a"}) == ["pt-4"]
    assert patients_shown({"patient_id": "-", "alert_id": "stalled"}) == []
    board = {"now": "2026-12-07T10:00:00Z", "rows": [{"patient_id": "pt-5"}, {"patient_id": "pt-6"}]}
    assert patients_shown(board) == ["pt-5", "pt-6"]
