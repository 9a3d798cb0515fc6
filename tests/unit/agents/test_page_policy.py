"""The pager bridge's decisions: which alert messages page, the backoff, transient vs permanent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from agents.pager_agent import (
    BACKOFF_CAP_SECONDS,
    MAX_KEYS_PER_PATIENT,
    MAX_PAGE_AGE,
    Outcome,
    Response,
    Skip,
    backoff_seconds,
    classify_status,
    deliver,
    page_body,
    page_decision,
    page_key,
    page_text,
    prune,
    retry_after_seconds,
    webhook_problem,
)
from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from streams.apps.cli.main import app
from streams.infra.settings import get_settings

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def alert(
    status: str = "firing", severity: str = "urgent", level: int = 0, ts: datetime = NOW, **more: Any
) -> Alert:
    return Alert(
        alert_id="pt-1-s1:fever:1",
        patient_id="pt-1",
        session_id="pt-1-s1",
        status=AlertStatus(status),
        severity=Severity(severity),
        condition=Condition.FEVER,
        ts=ts,
        escalation_level=level,
        title="Fever 38.6 C after a rate increase",
        evidence=Evidence(summary="temperature 38.6 >= 38", phase="infusing", values={"temperature_c": 38.6}),
        action="Slow the infusion to the previous rate and call the patient",
        rule=RuleRef(id="fever.febrile_reaction", version="1.1.0"),
        **more,
    )


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


def test_old_messages_do_not_page_but_future_ones_do() -> None:
    assert page_decision(alert(ts=NOW - MAX_PAGE_AGE - timedelta(seconds=1)), NOW, {}) is Skip.STALE
    assert page_decision(alert(ts=NOW - MAX_PAGE_AGE), NOW, {}) is None
    assert page_decision(alert(ts=NOW + timedelta(days=3)), NOW, {}) is None  # accelerated clock


def test_backoff_doubles_from_half_a_second_up_to_the_cap() -> None:
    assert [backoff_seconds(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff_seconds(60) == BACKOFF_CAP_SECONDS


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (500, Outcome.TRANSIENT),
        (502, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
        (408, Outcome.TRANSIENT),
        (429, Outcome.TRANSIENT),
        (400, Outcome.PERMANENT),
        (401, Outcome.PERMANENT),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (410, Outcome.PERMANENT),
        (422, Outcome.PERMANENT),
        (301, Outcome.PERMANENT),  # redirects are not followed: a moved webhook needs a new URL
    ],
)
def test_transient_and_permanent_answers(status: int, outcome: Outcome) -> None:
    assert classify_status(status) is outcome


def test_retry_after_in_seconds_is_honoured_up_to_the_cap() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("3600") == BACKOFF_CAP_SECONDS
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert retry_after_seconds(None) is None


class FakeWebhook:
    """Answers from a script: an int is an HTTP status, an exception is raised."""

    def __init__(self, *script: int | BaseException, retry_after: str | None = None) -> None:
        self.script = list(script)
        self.retry_after = retry_after
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.slept: list[float] = []

    async def post(self, body: bytes, headers: Mapping[str, str]) -> Response:
        self.calls.append((body, dict(headers)))
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, BaseException):
            raise step
        return Response(step, self.retry_after)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_transient_failures_are_retried_with_backoff_until_delivered() -> None:
    hook = FakeWebhook(503, TimeoutError(), aiohttp.ClientConnectionError("refused"), 200)
    result = await deliver(hook.post, b"{}", {"Idempotency-Key": "k"}, 8, hook.sleep)
    assert (result.delivered, result.attempts, result.reason) == (True, 4, None)
    assert hook.slept == [0.5, 1, 2]
    assert all(headers == {"Idempotency-Key": "k"} for _, headers in hook.calls)


async def test_a_permanent_refusal_is_not_retried_and_says_why() -> None:
    hook = FakeWebhook(503, 400)
    result = await deliver(hook.post, b"{}", {}, 8, hook.sleep)
    assert (result.delivered, result.attempts) == (False, 2)
    assert result.reason == "(pager): the webhook refused the page with HTTP 400 [page_refused]"
    assert hook.slept == [0.5]


async def test_attempts_are_capped_and_the_last_failure_is_named() -> None:
    hook = FakeWebhook(*[500] * 7, TimeoutError())
    result = await deliver(hook.post, b"{}", {}, 8, hook.sleep)
    assert (result.delivered, result.attempts) == (False, 8)
    assert result.reason == "(pager): not delivered after 8 attempts, last timeout [page_undelivered]"
    assert hook.slept == [0.5, 1, 2, 4, 8, 16, 30]  # no wait after the last attempt


async def test_retry_after_stretches_the_wait() -> None:
    hook = FakeWebhook(429, 200, retry_after="7")
    result = await deliver(hook.post, b"{}", {}, 3, hook.sleep)
    assert result.delivered and hook.slept == [7.0]


def test_the_page_is_the_alert_message_plus_a_short_text() -> None:
    escalated = alert("escalated", "critical", 2)
    body = json.loads(page_body(escalated))
    assert Alert.model_validate(body["alert"]) == escalated
    assert body["idempotency_key"] == "pt-1-s1:fever:1|escalated|2|critical"
    assert body["text"].startswith("CRITICAL ESCALATED (level 2, not acknowledged): Fever 38.6 C")
    assert "patient pt-1" in body["text"] and "Slow the infusion" in body["text"]
    assert page_text(alert()).startswith("URGENT NEW: ")
    assert page_text(alert("firing", "critical", 1)).startswith("CRITICAL RAISED (level 1): ")


def test_the_webhook_url_must_be_set_and_http() -> None:
    assert "IVIGWATCH_PAGER_WEBHOOK_URL is not set" in (webhook_problem(None) or "")
    assert "is not set" in (webhook_problem("") or "")
    assert "http:// or https://" in (webhook_problem("ftp://pager.example/x") or "")
    assert "http:// or https://" in (webhook_problem("pager.example/hook") or "")
    assert webhook_problem("https://pager.example/hooks/T0K3N") is None


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
