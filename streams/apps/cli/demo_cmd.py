"""`ivigwatch demo`: local stack, both workers, the watchdog, the pager bridge with the example roster
(its people reached through receivers the demo serves), simulated home infusions and the live feed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import typer
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.table import Table

from agents.roster_resolution import on_call
from agents.rules.loader import load_rules
from deploy import stack
from deploy.console_process import ConsoleError, ConsoleProcess, start_console, stop_console
from deploy.processes import ServerError, free_port, port_open
from deploy.workers import (
    WorkerError,
    WorkerProcess,
    start_watchdog,
    start_worker,
    stop_worker,
    wait_healthy,
)
from models.alerts import Alert, AlertStatus, Condition, Severity
from models.credentials import CredentialKind
from streams.apps.cli.alerts_cmd import follow, render
from streams.apps.cli.simulate_cmd import SimulateError, Stats, produce
from streams.apps.demo_pager import (
    DemoReceivers,
    ReceivedPage,
    example_roster,
    pager_settings,
    pages_line,
)
from streams.apps.gateway.gateway_app import running_gateway
from streams.apps.home_course import (
    CourseError,
    CourseLog,
    HomePatient,
    days_after,
    infusion_day,
    simulated_answers,
)
from streams.apps.scenarios import DEMO_SCENARIOS
from streams.apps.simulator import LEAD_TIME, scenario_plan
from streams.infra.credential_store import CredentialStore
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ACTIONS_TOPIC, EVENTS_TOPIC, ensure_topics
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient, InfluxUnavailable
from streams.infra.sinks.influx.line_protocol import ALERTS, INFUSION, PROFILES, SYMPTOMS, VITALS

console = Console(highlight=False)
SECOND_NURSE_WAIT_SECONDS = 30.0
HOME_PATIENT = "pt-home-01"
CONSOLE_NURSE = "rn-ana"  # a person of the example roster: pages meant for the owner reach her
DRAIN_SECONDS = 60.0
COUNT_FIELDS = {
    VITALS: "on_oxygen",
    SYMPTOMS: "reported",
    INFUSION: "count",
    PROFILES: "risk_factors",
    ALERTS: "alert_id",
}


@dataclass
class Feed:
    """What the live feed has shown, and the acknowledgements the demo nurse sent."""

    alerts: list[Alert] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    worker_counts: dict[str, int] = field(default_factory=dict)
    home: CourseLog | None = None
    silent_patient: str | None = None
    """The simulated patient who leaves the day-1 check-in unanswered."""
    pages: list[ReceivedPage] = field(default_factory=list)
    """What the example roster's people were paged (the demo's receivers)."""
    second_nurse: ReceivedPage | None = None
    """An unacknowledged incident's escalation that reached the backup nurse."""

    def by_severity(self) -> Counter[str]:
        """Distinct alerts, each counted once at the highest severity it reached."""
        highest: dict[str, Severity] = {}
        for a in self.alerts:
            if a.alert_id not in highest or a.severity.rank > highest[a.alert_id].rank:
                highest[a.alert_id] = a.severity
        return Counter(s.value for s in highest.values())


def demo(
    speed: float = typer.Option(150.0, help="Event-time seconds per wall second"),
    seed: int = typer.Option(7, help="Seed of the simulated noise"),
    keep_console: bool = typer.Option(
        False, "--keep-console", help="Keep the nurse console, workers and servers running until Ctrl-C"
    ),
) -> None:
    """Run the whole pipeline on local servers with simulated home infusions, then stop it all."""
    # The demo's own stack replays hours of infusions in minutes: its workers run the simulated clock.
    settings = get_settings().model_copy(update={"simulated_clock": True})
    began = time.monotonic()
    console.rule("[bold]ivigwatch demo")
    local_before = {s.name for s in stack.status(settings).servers if s.mode == "local" and s.running}
    workers: list[WorkerProcess] = []
    pager: list[WorkerProcess] = []  # started by _run once the receivers listen
    watchdog: WorkerProcess | None = None
    nurse_console: ConsoleProcess | None = None
    try:
        stack.up(settings, log=lambda line: console.print(f"  {line}", style="dim"))
        asyncio.run(ensure_topics(settings))
        workers.extend(start_worker(role, settings) for role in ("rules", "writer"))
        watchdog = _start_watchdog(settings)  # not waited for: it reads its history while workers start
        for worker in workers:
            wait_healthy(worker, timeout=120)
            console.print(f"  {worker.role} worker ready (log: {worker.log_path})", style="dim")
        nurse_console = _start_console(settings)
        feed, stats = asyncio.run(_run(settings, workers, pager, speed, seed))
        points = asyncio.run(_points(settings, stats))
        _summary(settings, feed, stats, points, time.monotonic() - began)
        problems = _check(feed)
        if keep_console:
            _keep(nurse_console)
    except (ServerError, WorkerError, ConsoleError, SimulateError, InfluxUnavailable, CourseError) as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        raise typer.Exit(1) from None
    finally:
        if nurse_console is not None:
            stop_console(nurse_console)
        for worker in [*workers, *pager, *([watchdog] if watchdog else [])]:
            stop_worker(worker)
        started_here = {stack.KAFKA, stack.INFLUXDB} - local_before
        if started_here:
            stack.down(settings, log=lambda line: console.print(f"  {line}", style="dim"))
    if problems:
        console.print("[bold red]The demo did not show what it should:[/]\n  " + "\n  ".join(problems))
        raise typer.Exit(1)
    console.print(f"[green]Demo finished in {time.monotonic() - began:.0f} s.[/]")


def _start_watchdog(settings: Settings) -> WorkerProcess:
    """The pipeline watchdog beside the workers (on a free port if its own is taken)."""
    port = settings.watchdog_web_port
    if port_open(settings.web_host, port):
        port = free_port(settings.web_host)
    watchdog = start_watchdog(settings.model_copy(update={"watchdog_web_port": port}))
    console.print(f"  pipeline watchdog started (log: {watchdog.log_path})", style="dim")
    return watchdog


def _start_console(settings: Settings) -> ConsoleProcess:
    """The nurse console beside the workers, with a demo account whose random password is shown once."""
    from streams.apps.console.auth import hash_password  # only here: its import runs scrypt once

    password = secrets.token_urlsafe(12)
    port = settings.console_port
    if port_open(settings.console_host, port):
        port = free_port(settings.console_host)
    env = {
        "IVIGWATCH_CONSOLE_USERS": f"{CONSOLE_NURSE}:{hash_password(password)}",
        "IVIGWATCH_CONSOLE_PORT": str(port),
    }
    nurse_console = start_console(settings, env)
    console.print(f"  nurse console ready (log: {nurse_console.log_path})", style="dim")
    console.print(f"  Nurse console: [bold]{nurse_console.url}[/]", soft_wrap=True)
    console.print(
        f"  Log in as [bold]{CONSOLE_NURSE}[/], password [bold]{password}[/] (made for this run only)",
        soft_wrap=True,
    )
    return nurse_console


def _keep(nurse_console: ConsoleProcess) -> None:
    """--keep-console: the console (and what it needs) stays up until Ctrl-C or until it exits."""
    console.print(
        f"\nThe nurse console stays up at [bold]{nurse_console.url}[/] (log in as [bold]{CONSOLE_NURSE}[/] "
        "with the password shown above). Press Ctrl-C to stop it and the servers.",
        soft_wrap=True,
    )

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C or a SIGTERM ends the wait, and everything is stopped (even where SIGINT was ignored).
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while nurse_console.process.poll() is None:
            time.sleep(1.0)
        console.print(f"[yellow]The nurse console exited ({nurse_console.process.returncode}).[/]")
    except KeyboardInterrupt:
        console.print("  stopping ...", style="dim")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _show_page(receivers: DemoReceivers) -> Any:
    def show(page: ReceivedPage) -> None:
        console.print(
            f"  [magenta]paged {page.person}[/] ({receivers.as_what(page)}): {page.severity} "
            f"{page.status} level {page.level}, {page.alert_id}",
            soft_wrap=True,
        )

    return show


async def _start_pager(settings: Settings, receivers: DemoReceivers, pager: list[WorkerProcess]) -> None:
    """The pager bridge with the example roster, its channels pointed at the demo's receivers."""
    await receivers.start()
    worker = start_worker("pager", pager_settings(settings, receivers.secrets()))
    pager.append(worker)
    await asyncio.to_thread(wait_healthy, worker, 120)
    console.print(
        f"  pager bridge ready with the example roster {receivers.roster.roster.id} (log: {worker.log_path})",
        style="dim",
    )


async def _run(
    settings: Settings, workers: list[WorkerProcess], pager: list[WorkerProcess], speed: float, seed: int
) -> tuple[Feed, Stats]:
    feed, stats = Feed(), Stats(live=True)
    stop, ready = asyncio.Event(), asyncio.Event()
    nurse = kafka_clients.producer(settings)
    await nurse.start()
    pending: list[asyncio.Task[Any]] = []
    roster = example_roster()
    receivers = DemoReceivers(roster, lambda page: None)
    receivers.show = _show_page(receivers)

    def show(alert: Alert) -> None:
        feed.alerts.append(alert)
        console.print(render(alert))
        if alert.condition is Condition.ANAPHYLAXIS and alert.status is AlertStatus.FIRING:
            primary = on_call(roster, alert.severity, 0, datetime.now(UTC))
            by = getattr(primary, "id", CONSOLE_NURSE)  # the nurse the page reached acknowledges it
            pending.append(asyncio.ensure_future(_acknowledge(nurse, alert, feed, by)))

    follower = asyncio.create_task(follow(settings, show, stop, ready=ready))
    await asyncio.gather(asyncio.wait_for(ready.wait(), timeout=30), _start_pager(settings, receivers, pager))
    console.rule(
        f"[bold]{len(DEMO_SCENARIOS)} simulated home infusions at {speed:g}x, and {HOME_PATIENT} at home "
        "through the gateway: live on-call feed"
    )
    planned: list[dict[str, Any]] = []

    def plan(first: datetime) -> Any:
        planned.extend(scenario_plan(DEMO_SCENARIOS, first + LEAD_TIME, seed))
        return iter(planned)

    try:
        with tempfile.TemporaryDirectory(prefix="ivigwatch-demo-gateway-") as state:
            store = CredentialStore(Path(state) / "credentials.json")
            tokens = {
                kind: store.issue(HOME_PATIENT, kind, f"demo {kind.value}", datetime.now(UTC))[1]
                for kind in (CredentialKind.DEVICE, CredentialKind.PUMP, CredentialKind.APP)
            }
            async with (
                running_gateway(settings, "127.0.0.1", 0, store=store) as url,
                aiohttp.ClientSession() as http,
            ):
                console.print(f"  gateway for {HOME_PATIENT}'s devices and app on {url}", style="dim")
                start = datetime.now(UTC) + LEAD_TIME
                home = HomePatient(url, HOME_PATIENT, f"{HOME_PATIENT}-d1", tokens, http)
                feed.home = home.log
                course = asyncio.create_task(infusion_day(home, start, speed, _say))
                await produce(
                    plan,
                    None,
                    settings=settings,
                    topic=EVENTS_TOPIC,
                    speed=speed,
                    rate=None,
                    stats=stats,
                    progress=lambda line: console.print(f"  {line}", style="dim"),
                )
                await course
                feed.worker_counts = await _drain(workers, stats)
                await asyncio.gather(*pending)
                await _days_after(settings, home, start, planned, nurse, feed)
        feed.worker_counts = await _drain(workers, stats)
        await _alert_seen(feed, HOME_PATIENT, Condition.ASEPTIC_MENINGITIS)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SECOND_NURSE_WAIT_SECONDS):
                feed.second_nurse = await receivers.wait_for_second_nurse()
    finally:
        stop.set()
        await follower
        await nurse.stop()
        await receivers.stop()
        feed.pages = list(receivers.pages)
    return feed, stats


def _say(line: str) -> None:
    console.print(f"  [bold cyan]{HOME_PATIENT}[/] {line}", soft_wrap=True)


async def _days_after(
    settings: Settings,
    home: HomePatient,
    start: datetime,
    planned: list[dict[str, Any]],
    producer: AIOKafkaProducer,
    feed: Feed,
) -> None:
    """The days after, as a time lapse: every simulated patient answers its check-ins (one leaves
    day 1 unanswered), and the patient at home answers through the app."""
    patients = sorted({str(e["patient_id"]) for e in planned})
    feed.silent_patient = patients[0] if patients else None
    skip = frozenset({(feed.silent_patient, 1)}) if feed.silent_patient else frozenset()
    answers = simulated_answers(planned, load_rules(settings.rules_file), (1, 2), skip)
    console.rule("[bold]The days after: check-ins (a time lapse)")

    async def send_other(event: dict[str, Any]) -> None:
        await producer.send_and_wait(
            EVENTS_TOPIC, json.dumps(event).encode(), key=str(event["patient_id"]).encode()
        )

    await days_after(home, start, answers, send_other, _say)


async def _alert_seen(feed: Feed, patient_id: str, condition: Condition) -> None:
    """Wait (a little) until the live feed has shown the patient's alert of `condition`."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if any(a.patient_id == patient_id and a.condition is condition for a in feed.alerts):
            return
        await asyncio.sleep(0.2)


async def _acknowledge(producer: AIOKafkaProducer, alert: Alert, feed: Feed, by: str) -> None:
    """The nurse on call acknowledges the anaphylaxis alert two minutes (event time) later."""
    action = {
        "type": "ack",
        "alert_id": alert.alert_id,
        "patient_id": alert.patient_id,
        "by": by,
        "ts": (alert.ts + timedelta(minutes=2)).isoformat().replace("+00:00", "Z"),
        "note": "called the patient; epinephrine given, 911 called",
    }
    await producer.send_and_wait(ACTIONS_TOPIC, json.dumps(action).encode(), key=alert.patient_id.encode())
    feed.acks.append(action)


async def _drain(workers: list[WorkerProcess], stats: Stats) -> dict[str, int]:
    """Wait until the rule worker has taken every event and the writer has written them."""
    deadline = time.monotonic() + DRAIN_SECONDS
    rules, writer = workers
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = dict((rules.health() or {}).get("counts", {}))
        written = (writer.health() or {}).get("counts", {}).get("lines", 0)
        if counts.get("events", 0) + counts.get("deadletter", 0) >= stats.sent and written >= stats.sent:
            return counts
        await asyncio.sleep(0.5)
    console.print(
        "  (the workers had not caught up after 60 s; the summary shows what was done)", style="yellow"
    )
    return counts


async def _points(settings: Settings, stats: Stats) -> dict[str, int]:
    since = stats.first_ts or datetime.now(UTC).isoformat()
    where = f"WHERE time >= '{since}'"
    async with InfluxClient(settings, role="reader") as client:
        return {m: await client.count(m, f, where) for m, f in COUNT_FIELDS.items()}


def _summary(settings: Settings, feed: Feed, stats: Stats, points: dict[str, int], seconds: float) -> None:
    console.rule("[bold]Summary")
    table = Table(show_header=False, box=None)
    elapsed = max(time.monotonic() - stats.began, 1e-9)
    table.add_row(
        "events produced",
        f"{stats.sent:,} for {len(stats.patients)} patients "
        f"({stats.sent / elapsed:,.0f} events/s on the accelerated clock)",
    )
    counts = feed.worker_counts
    table.add_row(
        "processed by the rule worker",
        f"{counts.get('events', 0):,} events, {counts.get('deadletter', 0):,} dead-lettered",
    )
    fired = feed.by_severity()
    table.add_row(
        "alerts raised", ", ".join(f"{fired.get(s.value, 0)} {s.value}" for s in reversed(Severity))
    )
    statuses = Counter(a.status.value for a in feed.alerts)
    table.add_row("alert messages", ", ".join(f"{n} {s}" for s, n in statuses.most_common()))
    table.add_row("nurse acknowledgements", str(len(feed.acks)))
    table.add_row("pages (example roster)", pages_line(feed.pages))
    second = feed.second_nurse
    table.add_row(
        "unacknowledged, to the second nurse",
        f"{second.alert_id} escalated to level {second.level}: paged {second.person}" if second else "no",
    )
    if feed.home is not None:
        home = feed.home
        table.add_row(
            f"{HOME_PATIENT} at home",
            f"{home.requests} requests to the gateway (device, pump, app); instruction shown: "
            f"{'yes' if home.instruction else 'no'}; check-ins answered: {len(home.checkins_answered)}",
        )
    table.add_row(
        "messages to patients",
        f"{counts.get('patient_messages', 0):,} on ivig.patient.v1 "
        "(measure again, vitals due, incidents, check-ins, readiness)",
    )
    stalls = {a.alert_id for a in feed.alerts if a.condition is Condition.PIPELINE_STALLED}
    table.add_row("pipeline watchdog", f"{len(stalls)} pipeline_stalled alert(s)" if stalls else "no stall")
    table.add_row("points in InfluxDB", ", ".join(f"{m} {n:,}" for m, n in points.items()))
    table.add_row("demo took", f"{seconds:.0f} s")
    console.print(table)
    febrile = next((a.session_id for a in feed.alerts if a.condition is Condition.FEVER), None)
    session = febrile or (feed.alerts[0].session_id if feed.alerts else "pt-0001")
    # InfluxQL shown to the analyst; the session id is our own pseudonym.
    columns = "temperature_c, heart_rate, systolic_bp, spo2"
    query = f"SELECT {columns} FROM vitals WHERE session_id = '{session}' ORDER BY time"  # noqa: S608
    console.print(
        "\nAn analyst's query (InfluxQL, database "
        f"[bold]{settings.influx_db}[/] at {settings.influx_base_url}):"
    )
    console.print(f"  {query}", style="cyan", soft_wrap=True)
    # The CLI logs in as the read-only InfluxDB user from the settings (a bare curl would be refused
    # by the secured stack, and a password printed here would end up in terminal scrollback).
    console.print(
        f'  .venv/bin/ivigwatch query --influxql "{query}"  (or: ivigwatch query timeline {session})',
        style="dim",
        soft_wrap=True,
    )
    console.print("  (run `make stack-up` first: the demo stops the servers it started)", style="dim")


def _check(feed: Feed) -> list[str]:
    """What a nurse must have seen: the anaphylaxis as critical, the febrile reaction as urgent, the
    patient at home's day-2 meningitis as urgent and the one unanswered check-in as a warning; and
    what the patient at home must have got back on the app."""
    problems = []
    if feed.second_nurse is None:
        problems.append("no unacknowledged incident's escalation reached the second nurse on call")
    home = feed.home
    if home is None or home.instruction is None:
        problems.append(f"{HOME_PATIENT}'s app never showed the fever instruction")
    if home is None or len(home.checkins_answered) != 2:
        problems.append(f"{HOME_PATIENT}'s app did not answer the day-1 and day-2 check-ins")
    if not any(
        a.patient_id == HOME_PATIENT
        and a.condition is Condition.ASEPTIC_MENINGITIS
        and a.severity.rank >= Severity.URGENT.rank
        for a in feed.alerts
    ):
        problems.append(f"no urgent aseptic meningitis alert for {HOME_PATIENT} reached ivig.alerts.v1")
    if not any(
        a.patient_id == feed.silent_patient and a.condition is Condition.MISSED_CHECKIN for a in feed.alerts
    ):
        problems.append("no missed_checkin warning for the patient who left a check-in unanswered")
    if not any(a.condition is Condition.ANAPHYLAXIS and a.severity is Severity.CRITICAL for a in feed.alerts):
        problems.append("no critical anaphylaxis alert reached ivig.alerts.v1")
    if not any(
        a.condition is Condition.FEVER and a.severity.rank >= Severity.URGENT.rank for a in feed.alerts
    ):
        problems.append("no urgent fever alert reached ivig.alerts.v1")
    return problems
