"""`ivigwatch ack|resolve|note` on the real broker: the action reaches the rules worker, which answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result
from typer.testing import CliRunner

from streams.apps.cli.main import app
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.settings import get_settings
from tests.integration.conftest import Collector, Live, as_message, new_patient, produce
from tests.integration.test_pipeline import infusion_with_anaphylaxis

pytestmark = pytest.mark.integration


@pytest.fixture
def nurse_env(live: Live, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in live.settings.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IVIGWATCH_NURSE_ID", "rn-night")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def cli(*args: str) -> Result:
    """The command as a nurse runs it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def firing_anaphylaxis(live: Live, collector: Collector) -> tuple[str, str]:
    patient = new_patient()
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in infusion_with_anaphylaxis(patient)])
    found = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["patient_id"] == patient and m["condition"] == "anaphylaxis"
    )
    assert found, "no anaphylaxis alert"
    return patient, found[0]["alert_id"]


@pytest.mark.usefixtures("nurse_env")
async def test_ack_on_a_real_alert_is_answered_with_an_acknowledged_message(
    live: Live, collector: Collector
) -> None:
    patient, alert_id = await firing_anaphylaxis(live, collector)
    result = await cli("ack", alert_id, "--note", "epinephrine given, 999 called")
    assert result.exit_code == 0, result.stderr
    sent = json.loads(result.stdout)
    assert {k: sent[k] for k in ("type", "alert_id", "patient_id", "by", "note")} == {
        "type": "ack",
        "alert_id": alert_id,
        "patient_id": patient,  # looked up on ivig.alerts.v1
        "by": "rn-night",
        "note": "epinephrine given, 999 called",
    }
    assert "sent to ivig.actions.v1 [partition" in result.stderr
    answer = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == alert_id and m["status"] == "acknowledged"
    )
    assert answer and (answer[0]["by"], answer[0]["note"]) == ("rn-night", "epinephrine given, 999 called")

    note = await cli("note", alert_id, "ambulance on site", "--by", "rn-day", "--patient", patient)
    assert note.exit_code == 0, note.stderr
    assert json.loads(note.stdout)["by"] == "rn-day"
    resolved = await cli("resolve", alert_id, "--note", "handed over to paramedics")
    assert resolved.exit_code == 0, resolved.stderr
    answer = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == alert_id and m["status"] == "resolved"
    )
    assert answer and answer[0]["note"] == "handed over to paramedics"


@pytest.mark.usefixtures("nurse_env")
async def test_an_unknown_alert_is_a_clear_error() -> None:
    result = await cli("ack", "nobody-s1:fever:1")
    assert result.exit_code == 1
    assert "no alert nobody-s1:fever:1 on ivig.alerts.v1" in result.stderr
    assert result.stdout == ""


def test_who_acts_must_be_known(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVIGWATCH_NURSE_ID", raising=False)
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # never reached
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["ack", "pt-1-s1:fever:1", "--patient", "pt-1"])
        assert result.exit_code == 2
        assert "pass --by NAME or set IVIGWATCH_NURSE_ID" in result.stderr
        missing_note = runner.invoke(app, ["resolve", "pt-1-s1:fever:1", "--by", "rn-1"])
        assert missing_note.exit_code == 2 and "--note" in missing_note.stderr
        bad = runner.invoke(app, ["ack", "pt-1-s1:fever:1", "--by", "rn-1", "--patient", "Jane Doe"])
        assert bad.exit_code == 2 and "patient_id" in bad.stderr and "Jane" not in bad.stderr
    finally:
        get_settings.cache_clear()


@pytest.mark.usefixtures("nurse_env")
async def test_an_acknowledged_critical_not_resolved_in_time_reminds_its_owner_then_handover_and_outcome(
    live: Live, collector: Collector
) -> None:
    """On the real broker: an anaphylaxis of 40 min ago, acknowledged 20 min ago by rn-night and not
    resolved, pages rn-night alone (a reminder on ivig.alerts.v1: page, notify = owner); a handover
    names the new owner; resolving the incident needs its outcome, which the resolution carries."""
    patient = new_patient()
    backdated = [{**e, "ts": _minutes_ago(e, 40)} for e in infusion_with_anaphylaxis(patient)]
    await produce(live.settings, EVENTS_TOPIC, [as_message(e) for e in backdated])
    # (its incident's number: a tick between the late records may open the vitals-overdue incident first)
    found = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["patient_id"] == patient and m["condition"] == "anaphylaxis"
    )
    assert found, "no anaphylaxis alert"
    incident = found[0]["incident_id"]
    ack = {"type": "ack", "alert_id": incident, "patient_id": patient, "by": "rn-night"}
    acked_at = (datetime.now(UTC) - timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
    await produce(live.settings, ACTIONS_TOPIC, [as_message({**ack, "ts": acked_at})])
    # This stack's simulated clock runs each partition on its items' own times: the patient's app
    # showing the incident's message now moves it past the reminder's due time (5 min ago), as the
    # wall clock does in production; without it, it waited for other tests' traffic on the partition.
    seen = {"type": "message_seen", "patient_id": patient, "session_id": f"{patient}-s1"}
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    seen |= {"ts": now, "message_id": f"{incident}:seen", "incident_id": incident}
    await produce(live.settings, EVENTS_TOPIC, [as_message(seen)])
    reminder = await collector.wait_for(ALERTS_TOPIC, lambda m: m["alert_id"] == incident and m.get("notify"))
    history = [
        (m["status"], m["ts"], m.get("owner"))
        for m in collector.seen[ALERTS_TOPIC]
        if m["alert_id"] == incident
    ]
    assert reminder, f"no reminder to the owner: {history}"
    assert {k: reminder[0][k] for k in ("status", "page", "notify", "owner")} == {
        "status": "acknowledged",
        "page": True,
        "notify": "rn-night",
        "owner": "rn-night",
    }

    handed = await cli(
        "handover", incident, "--to", "rn-day", "--note", "night shift ends", "--patient", patient
    )
    assert handed.exit_code == 0, handed.stderr
    assert await collector.wait_for(
        ALERTS_TOPIC,
        lambda m: m["alert_id"] == incident and m.get("owner") == "rn-day" and m["by"] == "rn-night",
    ), "the handover never came back from the rules worker"

    vague = await cli("resolve", incident, "--note", "done", "--patient", patient)
    assert vague.exit_code == 2 and "--outcome" in vague.stderr and "--action-taken" in vague.stderr
    resolved = await cli(
        "resolve", incident, "--note", "in hospital", "--outcome", "needed_action",
        "--action-taken", "epinephrine, ambulance", "--by", "rn-day", "--patient", patient,
    )  # fmt: skip
    assert resolved.exit_code == 0, resolved.stderr
    closed = await collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == incident and m["status"] == "resolved"
    )
    assert closed and (closed[0]["outcome"], closed[0]["action_taken"]) == (
        "needed_action",
        "epinephrine, ambulance",
    )


def _minutes_ago(item: dict[str, object], minutes: float) -> str:
    """The item's time moved `minutes` into the past (a late upload: evaluated at its own time)."""
    ts = datetime.fromisoformat(str(item["ts"])) - timedelta(minutes=minutes)
    return ts.isoformat().replace("+00:00", "Z")
