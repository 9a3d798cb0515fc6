"""The demo's pager bridge: the example roster's people (two nurses, a supervisor, the on-call desk)
reached through receivers the demo serves itself, so no page leaves the machine; what each was paged."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from agents.roster_file import EXAMPLE_ROSTER_FILE, load_roster
from agents.roster_resolution import on_call
from deploy.processes import free_port, port_open
from models.alerts import Severity
from models.roster import Roster, channel_secrets
from streams.infra.settings import Settings


@dataclass(frozen=True)
class ReceivedPage:
    person: str
    alert_id: str
    status: str
    level: int
    severity: str
    at: datetime  # wall clock, when it arrived

    @classmethod
    def of(cls, key: str, at: datetime) -> ReceivedPage | None:
        """From the page's Idempotency-Key, `alert_id|status|level|severity|person`."""
        parts = key.split("|")
        if len(parts) != 5 or not parts[2].isdigit():
            return None
        alert_id, status, level, severity, person = parts
        return cls(person, alert_id, status, int(level), severity, at)


@dataclass
class DemoReceivers:
    """One local HTTP server standing in for every channel of the example roster: `/{person}/...`."""

    roster: Roster
    show: Callable[[ReceivedPage], None]
    pages: list[ReceivedPage] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def secrets(self) -> dict[str, str]:
        """Every secret the roster names: URLs to this server's path for the person, made-up tokens."""
        values: dict[str, str] = {}
        contacts = [(p.id, p.channels) for p in self.roster.people]
        for person, channels in [*contacts, (self.roster.fallback.id, self.roster.fallback.channels)]:
            for channel in channels:
                for name in channel_secrets(channel):
                    url = name.endswith("url")
                    values[name] = f"http://127.0.0.1:{self.port}/{person}" if url else f"demo-{name}"
        return values

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{person}{tail:.*}", self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _receive(self, request: web.Request) -> web.Response:
        await request.read()
        page = ReceivedPage.of(request.headers.get("Idempotency-Key", ""), datetime.now(UTC))
        if page is not None:
            self.pages.append(page)
            self.arrived.set()
            self.show(page)
        return web.Response(status=200)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_second_nurse(self) -> ReceivedPage | None:
        """Wait until an escalation reached the second nurse (bound it with asyncio.timeout)."""
        while (found := reached_second_nurse(self.roster, self.pages)) is None:
            self.arrived.clear()
            await self.arrived.wait()
        return found

    def as_what(self, page: ReceivedPage) -> str:
        """In which capacity the person got the page: on call in a slot, named for it, the fallback."""
        if page.person == self.roster.fallback.id:
            return "the fallback contact"
        found = on_call(self.roster, Severity(page.severity), page.level, page.at)
        slot = self.roster.slot_for(Severity(page.severity), page.level)
        if getattr(found, "id", None) == page.person and slot is not None:
            return f"on call as {slot.value}"
        return "named for this page"


def pager_settings(settings: Settings, secrets: dict[str, str]) -> Settings:
    """The demo's pager bridge: the example roster, the demo's receivers, a free web port."""
    port = settings.pager_web_port
    if port_open(settings.web_host, port):
        port = free_port(settings.web_host)
    return settings.model_copy(
        update={
            "pager_roster_file": EXAMPLE_ROSTER_FILE,
            "pager_secrets": secrets,
            "pager_web_port": port,
            "pager_webhook_url": None,
        }
    )


def example_roster() -> Roster:
    return load_roster(EXAMPLE_ROSTER_FILE)


def reached_second_nurse(roster: Roster, pages: list[ReceivedPage]) -> ReceivedPage | None:
    """A page escalated to level 1 that reached the backup nurse on call when it arrived, another
    person than the primary (the unacknowledged incident reaching the second nurse)."""
    for page in pages:
        if page.status != "escalated" or page.level != 1:
            continue
        severity = Severity(page.severity)
        first, second = (on_call(roster, severity, level, page.at) for level in (0, 1))
        if getattr(second, "id", None) == page.person and getattr(first, "id", None) != page.person:
            return page
    return None


def pages_line(pages: list[ReceivedPage]) -> str:
    if not pages:
        return "none"
    counts = Counter(p.person for p in pages)
    return f"{len(pages)}: " + ", ".join(f"{person} {n}" for person, n in counts.most_common())
