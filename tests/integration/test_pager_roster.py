"""The pager bridge with a roster on the real broker: a pager worker (a child process) pages each
person through their own receiver, served by this test process (one small aiohttp server per
person). An unacknowledged critical of the rules worker reaches the backup nurse after the rule
file's escalation delay; a page during a roster gap, and one to a channel that keeps failing, reach
the fallback contact, and a system alert shows it on the alerts topic.

The session's stack runs the simulated clock: the anaphylaxis events are timed ten minutes back, so
its incident's escalation (five minutes after the page, event time) is due as soon as it fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from agents.rules.loader import load_rules
from deploy.processes import free_port
from deploy.workers import WorkerProcess, start_worker, stop_worker, wait_healthy
from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC
from streams.infra.settings import Settings
from tests.integration.conftest import Collector, Live, as_message, new_patient, produce
from tests.integration.test_pipeline import infusion_with_anaphylaxis
from tests.roster_files import PEOPLE, write_roster

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Page:
    person: str
    key: str
    body: bytes
    status: int


@dataclass
class Receivers:
    """One aiohttp server per person of the test roster; `failing` people answer 503."""

    failing: set[str] = field(default_factory=set)
    pages: list[Page] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    runners: list[web.AppRunner] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        for person in PEOPLE:
            app = web.Application()
            app.router.add_post(f"/{person}", self.receiver(person))
            runner = web.AppRunner(app)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            self.runners.append(runner)
            self.urls[f"{person}-url"] = f"http://127.0.0.1:{port}/{person}"

    def receiver(self, person: str) -> Callable[[web.Request], Any]:
        async def receive(request: web.Request) -> web.Response:
            status = 503 if person in self.failing else 200
            key = request.headers.get("Idempotency-Key", "")
            self.pages.append(Page(person, key, await request.read(), status))
            self.arrived.set()
            return web.Response(status=status)

        return receive

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()

    async def wait_for(self, predicate: Callable[[Page], bool], timeout: float = 30.0) -> list[Page]:
        deadline = time.monotonic() + timeout
        while not (found := [p for p in self.pages if predicate(p)]) and time.monotonic() < deadline:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), max(0.0, deadline - time.monotonic()))
        return found


@dataclass
class RosterPager:
    settings: Settings
    worker: WorkerProcess
    receivers: Receivers
    collector: Collector


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def roster_pager(live: Live, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RosterPager]:
    receivers = Receivers(failing={"rn-broken"})
    await receivers.start()
    roster_file: Path = write_roster(tmp_path_factory.mktemp("roster"))
    settings = live.settings.model_copy(
        update={
            "pager_roster_file": roster_file,
            "pager_secrets": receivers.urls,
            "pager_web_port": free_port(),
            "pager_app_id": f"ivigwatch-pager-{uuid.uuid4().hex[:6]}",
            "pager_timeout_seconds": 2.0,
            "pager_max_attempts": 2,
            "pager_person_attempts": 2,
        }
    )
    collector = Collector(settings)
    await collector.start()
    worker = start_worker("pager", settings, log_name="pager-roster")
    try:
        await asyncio.to_thread(wait_healthy, worker, 60)
        yield RosterPager(settings, worker, receivers, collector)
    finally:
        await asyncio.to_thread(stop_worker, worker)
        await collector.stop()
        await receivers.stop()


def alert(patient: str, severity: str, status: str = "escalated", level: int = 0, **more: Any) -> Alert:
    return Alert(
        alert_id=f"{patient}-s1:fever:1",
        patient_id=patient,
        session_id=f"{patient}-s1",
        status=AlertStatus(status),
        severity=Severity(severity),
        condition=Condition.FEVER,
        ts=datetime.now(UTC),
        escalation_level=level,
        title="fever (test)",
        evidence=Evidence(summary="test", phase="infusing"),
        action="call the patient",
        rule=RuleRef(id="fever.test", version="test"),
        page=status in ("firing", "escalated"),
        **more,
    )


async def send(pager: RosterPager, *alerts: Alert) -> None:
    await produce(
        pager.settings, ALERTS_TOPIC, [(a.patient_id.encode(), a.model_dump_json().encode()) for a in alerts]
    )


async def test_an_unacknowledged_critical_reaches_the_backup_after_the_escalation_delay(
    roster_pager: RosterPager,
) -> None:
    patient = new_patient()
    events = infusion_with_anaphylaxis(patient)
    for item in events:  # ten minutes back: the escalation is due at once on the simulated clock
        item["ts"] = (datetime.fromisoformat(str(item["ts"])) - timedelta(minutes=10)).isoformat()
    await produce(roster_pager.settings, EVENTS_TOPIC, [as_message(e) for e in events])
    first_alert = f"{patient}-s1:anaphylaxis:1"
    first = await roster_pager.receivers.wait_for(lambda p: p.key.startswith(f"{first_alert}|firing|0"))
    escalated = await roster_pager.receivers.wait_for(
        lambda p: "|escalated|1|critical|" in p.key and p.key.startswith(patient)
    )
    assert [p.person for p in first] == ["rn-a"], "the primary nurse did not get the anaphylaxis page"
    assert [p.person for p in escalated] == ["rn-b"], "the unacknowledged critical did not reach the backup"
    assert escalated[0].body.decode().endswith("Paged: Nurse B (rn-b), on call as backup.")  # ntfy: the text
    assert await roster_pager.collector.wait_for(
        ALERTS_TOPIC, lambda m: m["patient_id"] == patient and m["status"] == "escalated", count=1
    )
    messages = [Alert.model_validate(m) for m in roster_pager.collector.seen[ALERTS_TOPIC]]
    mine = [
        (a.alert_id, a.status.value, a.escalation_level, a.ts.isoformat())
        for a in messages
        if a.patient_id == patient
    ]
    fired = next(
        a for a in messages if a.alert_id == first_alert and a.status is AlertStatus.FIRING and a.page
    )
    raised = next(a for a in messages if a.patient_id == patient and a.status is AlertStatus.ESCALATED)
    delay = load_rules(roster_pager.settings.rules_file).timing.escalate_critical_minutes
    assert raised.escalation_level == 1 and raised.ts - fired.ts == timedelta(minutes=delay), mine
    # Nobody else was paged about this patient: each update reached one person, once.
    assert sorted(
        p.person for p in roster_pager.receivers.pages if p.key.startswith(patient) and "|1|" in p.key
    ) == ["rn-b"]


async def test_a_page_in_a_roster_gap_reaches_the_fallback_and_the_console_sees_it(
    roster_pager: RosterPager,
) -> None:
    patient = new_patient()
    gap = alert(patient, "urgent", level=2)  # urgent level 2: the supervisor, whom nobody is
    await send(roster_pager, gap)
    pages = await roster_pager.receivers.wait_for(lambda p: p.key.startswith(gap.alert_id))
    assert [(p.person, p.key) for p in pages] == [("desk", f"{gap.alert_id}|escalated|2|urgent|desk")]
    assert b"because nobody is on call as supervisor (a gap in the roster)" in pages[0].body
    system_id = f"{gap.alert_id}:oncall_gap:2"
    fired = await roster_pager.collector.wait_for(ALERTS_TOPIC, lambda m: m["alert_id"] == system_id)
    assert (
        fired
        and fired[0]["status"] == "firing"
        and fired[0]["condition"] == "oncall_gap"
        and fired[0]["page"]
    )
    await send(roster_pager, alert(patient, "urgent", "acknowledged", 2, by="rn-a"))
    resolved = await roster_pager.collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == system_id and m["status"] == "resolved"
    )
    assert resolved, "the oncall_gap alert did not resolve when its alert was acknowledged"


async def test_a_channel_that_keeps_failing_reaches_the_fallback(roster_pager: RosterPager) -> None:
    patient = new_patient()
    page = alert(patient, "critical", "firing", notify="rn-broken")
    await send(roster_pager, page)
    pages = await roster_pager.receivers.wait_for(
        lambda p: p.key.startswith(page.alert_id) and p.person == "desk"
    )
    tried = [(p.person, p.status) for p in roster_pager.receivers.pages if p.key.startswith(page.alert_id)]
    assert tried == [("rn-broken", 503), ("rn-broken", 503), ("desk", 200)]
    body = pages[0].body  # a page naming one person (notify) is that person's reminder
    assert b"FALLBACK CRITICAL REMINDER to rn-broken" in body and b"the page to rn-broken failed" in body
    system = await roster_pager.collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == f"{page.alert_id}:page_undelivered:0"
    )
    assert system and system[0]["evidence"]["values"] == {"fallback_reached": 1.0}
    ack = {"type": "ack", "alert_id": system[0]["alert_id"], "patient_id": patient, "by": "rn-a"}
    ack["ts"] = datetime.now(UTC).isoformat()
    await produce(roster_pager.settings, ACTIONS_TOPIC, [as_message(ack)])
    dismissed = await roster_pager.collector.wait_for(
        ALERTS_TOPIC, lambda m: m["alert_id"] == ack["alert_id"] and m["status"] == "resolved"
    )
    assert dismissed and dismissed[0]["by"] == "rn-a", "a nurse's ack did not resolve the system alert"
    # the worker counts a fallback once its page call returns, which may be after the test saw the page
    began = time.monotonic()
    while fallbacks(roster_pager) < 2:
        assert time.monotonic() - began < 30, f"/healthz counts {fallbacks(roster_pager)} fallbacks, not 2"
        await asyncio.sleep(0.2)


def fallbacks(roster_pager: RosterPager) -> int:
    """The pager's count of pages that went to the fallback contact (its /healthz)."""
    health = roster_pager.worker.health() or {}
    return int(health.get("counts", {}).get("fallback", 0))
