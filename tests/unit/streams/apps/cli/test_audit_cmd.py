"""`ivigwatch audit`: the console's audit records, filtered by user, patient and time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.apps.cli.main import app
from streams.infra.settings import get_settings
from streams.infra.sinks.audit.audit_file import AuditRecord, append_records, audit_path

runner = CliRunner()
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("IVIGWATCH_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    views = [
        ("rn-ana", "nurse", "pt-1", 0),
        ("an-cy", "analyst", "pt-1", 10),
        ("an-cy", "analyst", "pt-2", 20),
    ]
    append_records(
        audit_path(tmp_path),
        [
            AuditRecord(
                ts=T0 + timedelta(minutes=m), user=u, role=r, patient=p, what="alert list", client="127.0.0.1"
            )
            for u, r, p, m in views
        ],
    )
    yield tmp_path
    get_settings.cache_clear()


def test_audit_filters_by_user_patient_and_time(state_dir: Path) -> None:
    table = runner.invoke(app, ["audit", "--patient", "pt-1"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].startswith("time\tuser\trole\tpatient")
    assert [line.split("\t")[1] for line in lines[1:]] == ["rn-ana", "an-cy"]

    found = runner.invoke(app, ["audit", "--json", "--user", "an-cy", "--since", "2026-12-07T08:15:00Z"])
    assert found.exit_code == 0, found.output
    assert [json.loads(line)["patient"] for line in found.output.splitlines()] == ["pt-2"]

    bad = runner.invoke(app, ["audit", "--since", "yesterday"])
    assert bad.exit_code == 2 and "RFC 3339" in bad.output
