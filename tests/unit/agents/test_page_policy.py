"""The pager's policy: which alert messages page, which delivered keys are kept; the worker's start check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from agents.page_policy import MAX_KEYS_PER_PATIENT, MAX_PAGE_AGE, Skip, page_decision, prune
from streams.apps.cli.main import app
from streams.infra.settings import get_settings
from streams.infra.sinks.pager.page_encoding import page_key, page_text
from tests.builders import NOW
from tests.builders import alert_message as alert


@pytest.mark.parametrize(
    ("status", "severity", "level", "expected"),
    [
        ("firing", "urgent", 0, None),
        ("firing", "critical", 0, None),
        ("escalated", "urgent", 1, None),
        ("escalated", "critical", 3, None),
        ("firing", "critical", 2, None),  # a severity raise after escalations: it is a firing message
        ("firing", "warning", 0, Skip.BELOW_URGENT),
        ("firing", "info", 0, Skip.BELOW_URGENT),
        ("escalated", "warning", 1, Skip.BELOW_URGENT),
        ("acknowledged", "critical", 0, Skip.NOT_NEW),
        ("resolved", "urgent", 1, Skip.NOT_NEW),
    ],
)
def test_urgent_and_critical_new_or_escalated_messages_page(
    status: str, severity: str, level: int, expected: Skip | None
) -> None:
    assert page_decision(alert(status, severity, level), NOW, {}) is expected


def test_a_pending_finding_does_not_page_even_when_critical() -> None:
    assert page_decision(alert("firing", "critical", page=False), NOW, {}) is Skip.NOT_NEW


def test_each_update_pages_once_and_a_severity_raise_is_a_new_update() -> None:
    urgent = alert("firing", "urgent")
    delivered = {page_key(urgent): urgent.ts.isoformat()}
    assert page_decision(urgent, NOW, delivered) is Skip.ALREADY_PAGED
    assert page_decision(alert("firing", "critical"), NOW, delivered) is None
    assert page_decision(alert("escalated", "urgent", 1), NOW, delivered) is None
    assert (
        len({page_key(a) for a in (urgent, alert("firing", "critical"), alert("escalated", "urgent", 1))})
        == 3
    )


def test_each_reminder_to_an_owner_pages_even_at_the_same_level() -> None:
    """Contract v2: an owner's reminder (acknowledged, `page`, `notify`) pages that person; a second
    reminder after a handover is a new update, though status, level and severity are the same."""
    first = alert("acknowledged", "critical", page=True, notify="rn-4", owner="rn-4")
    second = alert(
        "acknowledged", "critical", page=True, notify="rn-9", owner="rn-9", ts=NOW + timedelta(minutes=20)
    )
    assert page_decision(first, NOW, {}) is None
    delivered = {page_key(first): first.ts.isoformat()}
    assert page_decision(first, NOW, delivered) is Skip.ALREADY_PAGED
    assert page_decision(second, NOW, delivered) is None
    assert page_text(first).startswith("CRITICAL REMINDER to rn-4 (acknowledged, not resolved): ")


def test_a_page_key_is_a_valid_http_header_whatever_the_owner_is_called() -> None:
    reminder = alert("acknowledged", "critical", page=True, notify="rn 4\r\nX-Evil: 1", owner="rn-4")
    key = page_key(reminder)
    assert key.isprintable() and " " not in key and "rn%204%0D%0AX-Evil%3A%201" in key


def test_old_messages_do_not_page_but_future_ones_do() -> None:
    assert page_decision(alert(ts=NOW - MAX_PAGE_AGE - timedelta(seconds=1)), NOW, {}) is Skip.STALE
    assert page_decision(alert(ts=NOW - MAX_PAGE_AGE), NOW, {}) is None
    assert page_decision(alert(ts=NOW + timedelta(days=3)), NOW, {}) is None  # accelerated clock


def test_delivered_keys_are_forgotten_once_too_old_to_page_and_stay_bounded() -> None:
    old = (NOW - MAX_PAGE_AGE - timedelta(minutes=1)).isoformat()
    assert prune({"a": old, "b": NOW.isoformat()}, NOW) == {"b": NOW.isoformat()}
    many = {f"k{i}": (NOW + timedelta(seconds=i)).isoformat() for i in range(MAX_KEYS_PER_PATIENT + 5)}
    kept = prune(many, NOW)
    assert len(kept) == MAX_KEYS_PER_PATIENT and "k0" not in kept and f"k{MAX_KEYS_PER_PATIENT + 4}" in kept


@pytest.mark.parametrize("url", [None, "", "pager.example/hook"])
def test_the_pager_worker_refuses_to_start_without_a_webhook(
    url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if url is None:
        monkeypatch.delenv("IVIGWATCH_PAGER_WEBHOOK_URL", raising=False)
    else:
        monkeypatch.setenv("IVIGWATCH_PAGER_WEBHOOK_URL", url)
    monkeypatch.setenv("IVIGWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:1")  # never reached
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["worker", "pager"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.startswith("cannot start the pager bridge: IVIGWATCH_PAGER_WEBHOOK_URL ")
