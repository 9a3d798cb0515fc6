"""Analysts load a recorded file into InfluxDB and read a session back, on the real InfluxDB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agents.rules.loader import load_rules
from streams.apps.cli.main import app
from streams.apps.influx_import import import_lines
from streams.apps.replay import LineError, replay
from streams.apps.sessions import SessionNotFound, load_session
from streams.infra.sinks.influx.influx_client import InfluxClient
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration

FILE = Path(__file__).parents[1] / "scenarios" / "library" / "fever-after-rate-step.jsonl"
SESSION = "pt-fever-01-d1"


async def test_an_imported_file_reads_back_as_its_session(live: Live) -> None:
    settings = live.settings.model_copy(update={"influx_db": "ivigwatch_import_test"})
    lines = FILE.read_text().splitlines()
    expected_alerts = [a for a in replay(lines, load_rules()) if not isinstance(a, LineError)]
    async with InfluxClient(settings, role="admin") as client:
        await client.ensure_database()
        summary = await import_lines(client, lines, load_rules())
        again = await import_lines(client, lines, load_rules())  # idempotent: same points
        record = await load_session(client, SESSION)
        with pytest.raises(SessionNotFound):
            await load_session(client, "pt-nobody-d1")
        with pytest.raises(ValueError, match="not a valid session id"):
            await load_session(client, "x' OR 1=1 --")
    events = [json.loads(line) for line in lines]
    assert summary.events == again.events == len(events) and not summary.bad_lines
    assert summary.alerts == len(expected_alerts)
    assert len(record.vitals) == sum(e["type"] == "vitals" for e in events)
    assert len(record.alerts) == len(expected_alerts)
    assert [a.alert_id for a in record.alerts] == [a.alert_id for a in expected_alerts]
    assert record.start is not None and record.stop is not None and record.start < record.stop
    assert record.product == next(e["product"] for e in events if e.get("action") == "start")
    rated = [a for a in record.alerts if a.condition == "fever"]
    assert rated, "the fever after the rate step is stored"
    assert [rate for _, rate in record.rate_steps()] == [
        e["rate_ml_per_h"] for e in events if e["type"] == "infusion" and "rate_ml_per_h" in e
    ]


def test_the_import_command_reports_what_it_wrote(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in live.settings.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IVIGWATCH_INFLUX_DB", "ivigwatch_import_cli")
    from streams.infra.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", str(FILE)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stderr
    assert "imported" in result.stdout and "into ivigwatch_import_cli (0 lines refused)" in result.stdout
    vitals_minutes = len(
        {json.loads(line)["ts"][:16] for line in FILE.read_text().splitlines() if '"vitals"' in line}
    )
    assert f"{vitals_minutes} 1-minute rollup points rebuilt" in result.stdout
