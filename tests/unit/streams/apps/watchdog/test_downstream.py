"""A `pipeline_stalled` message (patient and session `-`) is paged, stored and shown like any alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.page_policy import page_decision
from models.alerts import Alert, AlertStatus
from streams.apps.console.alertbook import AlertBook
from streams.apps.watchdog import messages
from streams.apps.watchdog.lag import BacklogView
from streams.apps.watchdog.messages import Findings
from streams.infra.sinks.influx.line_protocol import alert_point, to_line
from streams.infra.sinks.pager.page_encoding import page_text

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def fired(status: AlertStatus = AlertStatus.FIRING, level: int = 0) -> Alert:
    findings = Findings("ivigwatch-rules", BacklogView({}, 5.0), (), {"http://rules:6066/healthz": 31.0})
    return messages.message(3, status, NOW, messages.stalled_evidence(findings, NOW), level)


def test_the_pager_pages_it_new_and_escalated_but_not_resolved() -> None:
    assert page_decision(fired(), NOW, {}) is None
    assert page_decision(fired(AlertStatus.ESCALATED, 1), NOW, {}) is None
    assert page_decision(fired(AlertStatus.RESOLVED), NOW, {}) is not None
    text = page_text(fired())
    assert text.startswith("CRITICAL NEW: Alert pipeline stalled")
    assert "the alert pipeline itself" in text
    assert "patient -" not in text
    assert "-:pipeline_stalled:3" in text
    assert "check every patient" in text


def test_the_writer_stores_it_with_dash_tags() -> None:
    line = to_line(alert_point(fired()))
    assert line.startswith("alerts,condition=pipeline_stalled,patient_id=-,session_id=-,severity=critical,")
    assert 'alert_id="-:pipeline_stalled:3"' in line
    assert "not answered for 31 s" in line


def test_the_console_keeps_it_open_until_resolved() -> None:
    book = AlertBook()
    book.apply(fired())
    assert [e.alert.alert_id for e in book.open_alerts()] == ["-:pipeline_stalled:3"]
    book.apply(fired(AlertStatus.RESOLVED).model_copy(update={"ts": NOW + timedelta(minutes=2)}))
    assert book.open_alerts() == []


def test_the_evidence_says_why_without_any_reading() -> None:
    alert = fired()
    assert "http://rules:6066/healthz has not answered for 31 s" in alert.evidence.summary
    assert alert.evidence.values["unanswered_seconds"] == 31.0
    assert set(alert.evidence.values) <= {
        "lag_events",
        "oldest_wait_seconds",
        "events_arrived",
        "events_processed",
        "window_seconds",
        "partitions_stalled",
        "unanswered_seconds",
        "workers_unanswered",
    }


def test_alert_ids_round_trip() -> None:
    assert messages.alert_id(12) == "-:pipeline_stalled:12"
    assert messages.number_of("-:pipeline_stalled:12") == 12
    assert messages.number_of("pt-1-s1:pipeline_stalled:1") is None
    assert messages.number_of("-:fever:1") is None
    assert messages.number_of("-:pipeline_stalled:x") is None
