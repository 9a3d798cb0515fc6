"""How a page is posted to each kind of channel a roster names (pure): the request for a generic
JSON webhook, ntfy, Pushover and Twilio's SMS API, with the secrets the channel names filled in."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from models.alerts import Alert, Severity
from models.roster import Channel, NtfyChannel, PushoverChannel, TwilioSmsChannel, WebhookChannel
from streams.infra.sinks.pager.page_encoding import (
    Recipient,
    page_document,
    page_text,
    page_title,
    recipient_key,
)

PUSHOVER_URL = "https://api.pushover.net/1/messages.json"
TWILIO_API = "https://api.twilio.com/2010-04-01"
PUSHOVER_MAX_MESSAGE = 1024
PUSHOVER_EMERGENCY_RETRY_SECONDS = 60
"""A critical page (Pushover priority 2) repeats every minute ..."""
PUSHOVER_EMERGENCY_EXPIRE_SECONDS = 3600
"""... for an hour, or until the person acknowledges it in the app."""
SMS_MAX_CHARS = 1600
"""Twilio's limit on one message's body."""
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class ChannelRequest:
    """One POST: where, what, and the headers (authorization and idempotency key included)."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # the URL and headers may hold secrets: never in a log or traceback
        return f"ChannelRequest(<{len(self.body)} bytes>)"


class MissingSecret(KeyError):
    """A secret the channel names is not in the pager's settings."""


def _secret(secrets: Mapping[str, str], name: str) -> str:
    value = secrets.get(name)
    if not value:
        raise MissingSecret(name)
    return value


def _ascii(text: str) -> str:
    """HTTP header text (ntfy's Title): non-ASCII characters replaced."""
    return text.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render(
    channel: Channel, alert: Alert, recipient: Recipient, secrets: Mapping[str, str]
) -> ChannelRequest:
    """The request that posts this page to `channel`; MissingSecret when a named secret is not set."""
    key = recipient_key(alert, recipient)
    critical = alert.severity is Severity.CRITICAL
    if isinstance(channel, WebhookChannel):
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if channel.token_secret:
            headers["Authorization"] = f"Bearer {_secret(secrets, channel.token_secret)}"
        body = json.dumps(page_document(alert, recipient)).encode()
        return ChannelRequest(_secret(secrets, channel.url_secret), body, headers)
    text = page_text(alert, recipient)
    if isinstance(channel, NtfyChannel):
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": _ascii(page_title(alert)),
            "Priority": "5" if critical else "4",  # ntfy: 5 max (urgent), 4 high
            "Tags": "rotating_light" if critical else "warning",
            "Idempotency-Key": key,
        }
        if channel.token_secret:
            headers["Authorization"] = f"Bearer {_secret(secrets, channel.token_secret)}"
        return ChannelRequest(_secret(secrets, channel.url_secret), text.encode(), headers)
    if isinstance(channel, PushoverChannel):
        form = {
            "token": _secret(secrets, channel.app_token_secret),
            "user": _secret(secrets, channel.user_key_secret),
            "title": _clip(page_title(alert), 250),
            "message": _clip(text, PUSHOVER_MAX_MESSAGE),
            "priority": "2" if critical else "1",  # 2: emergency, repeated until acknowledged
        }
        if critical:
            form |= {
                "retry": str(PUSHOVER_EMERGENCY_RETRY_SECONDS),
                "expire": str(PUSHOVER_EMERGENCY_EXPIRE_SECONDS),
            }
        url = _secret(secrets, channel.url_secret) if channel.url_secret else PUSHOVER_URL
        return ChannelRequest(url, urlencode(form).encode(), {"Content-Type": FORM, "Idempotency-Key": key})
    return _twilio(channel, text, key, secrets)


def _twilio(channel: TwilioSmsChannel, text: str, key: str, secrets: Mapping[str, str]) -> ChannelRequest:
    sid = _secret(secrets, channel.account_sid_secret)
    token = _secret(secrets, channel.auth_token_secret)
    base = _secret(secrets, channel.url_secret) if channel.url_secret else TWILIO_API
    url = f"{base.rstrip('/')}/Accounts/{quote(sid, safe='')}/Messages.json"
    form = {
        "To": _secret(secrets, channel.to_secret),
        "From": _secret(secrets, channel.from_secret),
        "Body": _clip(text, SMS_MAX_CHARS),
    }
    basic = base64.b64encode(f"{sid}:{token}".encode()).decode()
    headers = {"Content-Type": FORM, "Authorization": f"Basic {basic}", "Idempotency-Key": key}
    return ChannelRequest(url, urlencode(form).encode(), headers)
