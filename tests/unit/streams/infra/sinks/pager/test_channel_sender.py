"""The roster's channel sender with a fake HTTP: a person on call gets a short budget of attempts
before the fallback is paged, the fallback the full one, and a page that one channel took is not
held up by another channel still failing."""

from __future__ import annotations

import asyncio

from models.roster import NtfyChannel, WebhookChannel
from streams.infra.sinks.pager.channel_sender import ChannelSender
from streams.infra.sinks.pager.channel_templates import ChannelRequest
from streams.infra.sinks.pager.page_encoding import Recipient
from streams.infra.sinks.pager.webhook_client import Response
from tests.unit.streams.infra.sinks.pager.test_channel_templates import RN_A, SECRETS, alert

HOOK = WebhookChannel(kind="webhook", url_secret="hook")
NTFY = NtfyChannel(kind="ntfy", url_secret="topic")
DESK = Recipient("desk", "On-call desk", fallback=True, reason="the page to rn-a failed")


class FakeHttp:
    """Answers each URL from its own script of statuses (then 200); a URL in `hang` never answers."""

    def __init__(self, scripts: dict[str, list[int]], hang: frozenset[str] = frozenset()) -> None:
        self.scripts = scripts
        self.hang = hang
        self.calls: list[str] = []

    async def post(self, request: ChannelRequest) -> Response:
        self.calls.append(request.url)
        if request.url in self.hang:
            await asyncio.Event().wait()
        script = self.scripts.get(request.url, [])
        return Response(script.pop(0) if script else 200, None)


def sender(http: FakeHttp) -> ChannelSender:
    async def no_wait(_: float) -> None:
        return None

    made = ChannelSender(SECRETS, 5.0, max_attempts=8, sleep=no_wait, person_attempts=3)
    made.http = http.post
    return made


async def test_a_person_on_call_gets_a_few_attempts_and_the_fallback_all_of_them() -> None:
    http = FakeHttp({SECRETS["hook"]: [503] * 20})
    person = await sender(http).send([HOOK], alert(), RN_A)
    assert not person.reached and http.calls.count(SECRETS["hook"]) == 3
    assert person.reason is not None and "after 3 attempts" in person.reason
    fallback = await sender(http).send([HOOK], alert(), DESK)
    assert not fallback.reached and http.calls.count(SECRETS["hook"]) == 3 + 8


async def test_one_channel_that_took_the_page_is_enough_the_rest_are_stopped() -> None:
    http = FakeHttp({}, hang=frozenset({SECRETS["hook"]}))
    reach = await asyncio.wait_for(sender(http).send([HOOK, NTFY], alert(), RN_A), timeout=5)
    assert reach.reached and reach.delivered == ("ntfy",)
