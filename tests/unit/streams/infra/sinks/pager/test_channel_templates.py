"""The channel templates (pure): what each gateway receives, secrets filled in by name, the page
saying whom it was for."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from models.roster import NtfyChannel, PushoverChannel, TwilioSmsChannel, WebhookChannel
from streams.infra.sinks.pager.channel_templates import ChannelRequest, MissingSecret, render
from streams.infra.sinks.pager.page_encoding import Recipient

SECRETS = {
    "hook": "https://hooks.example/p/abc",
    "hook-token": "tok-1",
    "topic": "https://ntfy.sh/ivig-rn-a-5f2",
    "po-app": "app-token",
    "po-user": "user-key",
    "sid": "AC123",
    "auth": "secret-auth",
    "from": "+15550000001",
    "to": "+15550000002",
}
RN_A = Recipient("rn-a", "Ana Alves, RN", slot="primary")


def alert(severity: Severity = Severity.CRITICAL, level: int = 1) -> Alert:
    return Alert(
        alert_id="pt-1-s1:anaphylaxis:1",
        patient_id="pt-1",
        session_id="pt-1-s1",
        status=AlertStatus.ESCALATED,
        severity=severity,
        condition=Condition.ANAPHYLAXIS,
        ts=datetime(2026, 12, 7, 12, tzinfo=UTC),
        escalation_level=level,
        title="Possible anaphylaxis",
        evidence=Evidence(summary="hives and throat tightness", phase="infusing"),
        action="Stop the infusion, give epinephrine, call 911",
        rule=RuleRef(id="anaphylaxis", version="1"),
        page=True,
    )


def form(request: ChannelRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}


def test_webhook_posts_the_page_json_with_its_recipient_and_bearer_token() -> None:
    request = render(
        WebhookChannel(kind="webhook", url_secret="hook", token_secret="hook-token"), alert(), RN_A, SECRETS
    )
    assert request.url == SECRETS["hook"]
    assert request.headers["Authorization"] == "Bearer tok-1"
    page = json.loads(request.body)
    key = "pt-1-s1:anaphylaxis:1|escalated|1|critical|rn-a"
    assert page["idempotency_key"] == request.headers["Idempotency-Key"] == key
    assert page["recipient"] == {
        "id": "rn-a",
        "name": "Ana Alves, RN",
        "slot": "primary",
        "fallback": False,
        "reason": None,
    }
    assert page["alert"]["alert_id"] == "pt-1-s1:anaphylaxis:1"
    assert page["text"].startswith("CRITICAL ESCALATED (level 1, not acknowledged): Possible anaphylaxis")
    assert page["text"].endswith("Paged: Ana Alves, RN (rn-a), on call as primary.")
    assert "abc" not in repr(request) and "tok-1" not in repr(request)


def test_ntfy_posts_the_text_to_the_topic_with_priority() -> None:
    request = render(NtfyChannel(kind="ntfy", url_secret="topic"), alert(), RN_A, SECRETS)
    assert request.url == "https://ntfy.sh/ivig-rn-a-5f2"
    assert request.headers["Priority"] == "5" and request.headers["Tags"] == "rotating_light"
    assert request.headers["Title"] == "CRITICAL: Possible anaphylaxis"
    assert "Authorization" not in request.headers
    assert "Paged: Ana Alves, RN (rn-a)" in request.body.decode()
    urgent = render(
        NtfyChannel(kind="ntfy", url_secret="topic", token_secret="hook-token"),
        alert(Severity.URGENT),
        RN_A,
        SECRETS,
    )
    assert urgent.headers["Priority"] == "4" and urgent.headers["Authorization"] == "Bearer tok-1"


def test_pushover_is_an_emergency_for_critical_pages() -> None:
    channel = PushoverChannel(kind="pushover", app_token_secret="po-app", user_key_secret="po-user")
    request = render(channel, alert(), RN_A, SECRETS)
    assert request.url == "https://api.pushover.net/1/messages.json"
    sent = form(request)
    assert (sent["token"], sent["user"], sent["priority"]) == ("app-token", "user-key", "2")
    assert (sent["retry"], sent["expire"]) == ("60", "3600")
    assert "Paged: Ana Alves, RN (rn-a)" in sent["message"] and len(sent["message"]) <= 1024
    urgent = form(render(channel, alert(Severity.URGENT), RN_A, SECRETS))
    assert urgent["priority"] == "1" and "retry" not in urgent


def test_twilio_sms_posts_to_the_account_with_basic_auth() -> None:
    channel = TwilioSmsChannel(
        kind="twilio_sms",
        account_sid_secret="sid",
        auth_token_secret="auth",
        from_secret="from",
        to_secret="to",
    )
    fallback = Recipient("desk", "On-call desk", fallback=True, reason="nobody is on call as backup")
    request = render(channel, alert(), fallback, SECRETS)
    assert request.url == "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
    assert base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")) == b"AC123:secret-auth"
    sent = form(request)
    assert (sent["To"], sent["From"]) == ("+15550000002", "+15550000001")
    assert sent["Body"].startswith("FALLBACK CRITICAL ESCALATED")
    assert sent["Body"].endswith("the fallback contact, because nobody is on call as backup.")
    relay = render(channel.model_copy(update={"url_secret": "hook"}), alert(), fallback, SECRETS)
    assert relay.url == "https://hooks.example/p/abc/Accounts/AC123/Messages.json"


def test_a_missing_secret_is_named_not_guessed() -> None:
    with pytest.raises(MissingSecret) as caught:
        render(NtfyChannel(kind="ntfy", url_secret="nope"), alert(), RN_A, SECRETS)
    assert caught.value.args == ("nope",)
