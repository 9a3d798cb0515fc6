"""The pager sink: its encoding, its retry policy against a fake webhook, and what it gives back."""

from __future__ import annotations

import json
from collections.abc import Mapping

import aiohttp
import pytest

from models.alerts import Alert
from streams.infra.sinks.interface import Refused
from streams.infra.sinks.pager.page_encoding import page_body, page_text
from streams.infra.sinks.pager.page_retry import (
    BACKOFF_CAP_SECONDS,
    Outcome,
    backoff_seconds,
    classify_status,
    deliver,
    retry_after_seconds,
)
from streams.infra.sinks.pager.pager_sink import PagerSink
from streams.infra.sinks.pager.webhook_client import Response, webhook_problem
from tests.builders import alert_message as alert


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


async def test_a_page_the_client_cannot_even_send_fails_that_channel_and_is_not_retried() -> None:
    """A header aiohttp refuses (a control character) raises ValueError: the channel failed, with a
    reason, so the page goes to the fallback or the dead letters; the pager never stops on it."""
    hook = FakeWebhook(ValueError("Forbidden control character"))
    result = await deliver(hook.post, b"{}", {}, 8, hook.sleep)
    assert (result.delivered, result.attempts) == (False, 1)
    assert result.reason == "(pager): could not send (ValueError) [page_error]"
    assert hook.slept == []


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


async def test_the_sink_gives_back_only_what_it_could_not_deliver() -> None:
    hook = FakeWebhook(500, 500, 204, 400)
    sink = PagerSink(hook.post, max_attempts=2, sleep=hook.sleep)
    first, second = alert(), alert("escalated", "critical", 1)
    refused = await sink.write([first, second])
    assert refused == [
        Refused(first, "(pager): not delivered after 2 attempts, last HTTP 500 [page_undelivered]")
    ]
    assert sink.retries == 1
    assert len(hook.calls) == 3
    third = alert("escalated", "critical", 2)
    assert await sink.write([third]) == [
        Refused(third, "(pager): the webhook refused the page with HTTP 400 [page_refused]")
    ]
