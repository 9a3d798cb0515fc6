"""The console's side of the audit log: which patients an answer shows."""

from __future__ import annotations

from streams.apps.console.audit_log import patients_in


def test_the_patients_of_an_alert_list() -> None:
    snapshot = {
        "open": [{"patient_id": "pt-1"}, {"patient_id": "pt-2"}],
        "resolved": [{"patient_id": "pt-3"}, {"patient_id": "-"}],
        "groups": [{"key": "x"}],
    }
    assert patients_in(snapshot) == ["pt-1", "pt-2", "pt-3"]
