"""The audit file of patient views: records hold ids and names only, are appended owner-only, and are
read back by user, patient and time."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.infra.sinks.audit.audit_file import AuditRecord, append_records, audit_path, read_records

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def record(
    minutes: int, user: str = "rn-ana", patient: str = "pt-1", what: str = "alert list"
) -> AuditRecord:
    return AuditRecord(
        ts=T0 + timedelta(minutes=minutes),
        user=user,
        role="nurse",
        patient=patient,
        what=what,
        subject=f"{patient}-s1",
        client="10.0.0.7",
    )


def test_a_record_has_who_what_when_where_and_no_room_for_values() -> None:
    assert set(AuditRecord.model_fields) == {"ts", "user", "role", "patient", "what", "subject", "client"}
    with pytest.raises(ValidationError):
        AuditRecord.model_validate({**record(0).model_dump(), "heart_rate": 140})
    with pytest.raises(ValidationError):  # a free text (a value, a note) does not fit `what`
        record(0, what="SpO2 88 %")
    with pytest.raises(ValidationError):  # nor a patient field holding more than an id
        record(0, patient="pt-1 spo2=88")


def test_records_are_appended_owner_only_and_read_back_by_filter(tmp_path: Path) -> None:
    path = audit_path(tmp_path)
    append_records(path, [record(0), record(5, patient="pt-2")])
    append_records(path, [record(10, user="an-cy"), record(15, user="an-cy", patient="pt-2")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(path.read_text().splitlines()) == 4

    def found(**filters: object) -> list[tuple[str, str]]:
        return [(r.user, r.patient) for r in read_records(path, **filters)]  # type: ignore[arg-type]

    assert found() == [("rn-ana", "pt-1"), ("rn-ana", "pt-2"), ("an-cy", "pt-1"), ("an-cy", "pt-2")]
    assert found(user="an-cy") == [("an-cy", "pt-1"), ("an-cy", "pt-2")]
    assert found(patient="pt-2") == [("rn-ana", "pt-2"), ("an-cy", "pt-2")]
    assert found(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=15)) == [
        ("rn-ana", "pt-2"),
        ("an-cy", "pt-1"),
    ]


def test_a_torn_line_is_skipped_and_a_missing_file_is_empty(tmp_path: Path) -> None:
    path = audit_path(tmp_path)
    assert list(read_records(path)) == []
    append_records(path, [record(0)])
    with path.open("a") as handle:
        handle.write('{"ts": "2026-12-07T08:0')  # a crash in the middle of a write
    assert [r.patient for r in read_records(path)] == ["pt-1"]
