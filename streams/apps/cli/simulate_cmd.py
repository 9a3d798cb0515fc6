"""`ivigwatch simulate`: simulated home infusions, produced to Kafka on an accelerated clock (or to JSONL).

Event times start at `--start` (default: now) and run at `--speed` event-time seconds per wall
second, so they keep ahead of (or with) the wall clock. Faster than 1x they run ahead of it, which
only rule workers on the simulated clock accept (`IVIGWATCH_SIMULATED_CLOCK`: its clock is the later
of the wall clock and the latest event time, so events from the past would set off timers early).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TextIO

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from models.events import EventTime
from streams.apps.scenarios import DEMO_SCENARIOS, SCENARIOS
from streams.apps.simulator import LEAD_TIME, JsonDict, load_plan, scenario_plan
from streams.infra.kafka.topics import EVENTS_TOPIC
from streams.infra.settings import Settings, get_settings

_TIME = TypeAdapter[datetime](EventTime)
_err = Console(stderr=True, highlight=False)
PROGRESS_SECONDS = 3.0
PAST_TOLERANCE = timedelta(seconds=5)
"""A `--start` this far before now still counts as now (the time it takes to type the command)."""
DEFAULT_SPEED = 60.0

Plan = Callable[[datetime], Iterator[JsonDict]]
"""The events, given the time of the first one."""
Send = Callable[[JsonDict], Awaitable[None]]


class SimulateError(Exception):
    """Stops the run with a message on stderr and exit status 1."""


@dataclass
class Stats:
    """What has been sent; read for the progress lines and the summary."""

    live: bool
    began: float = field(default_factory=time.monotonic)
    sent: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    patients: set[str] = field(default_factory=set)

    def count(self, event: JsonDict) -> None:
        self.sent += 1
        self.last_ts = str(event["ts"])
        self.first_ts = self.first_ts or self.last_ts
        self.patients.add(str(event["patient_id"]))

    def position(self) -> str:
        if self.last_ts is None:
            return "nothing sent yet"
        text = f"event time {self.last_ts}"
        if self.live:
            ahead = (datetime.fromisoformat(self.last_ts) - datetime.now(UTC)).total_seconds()
            text += f" ({abs(ahead) / 60:.1f} min {'ahead of' if ahead >= 0 else 'BEHIND'} the wall clock)"
        return text

    def summary(self, destination: str) -> str:
        elapsed = max(time.monotonic() - self.began, 1e-9)
        span = f"event time {self.first_ts} to {self.last_ts}" if self.first_ts else "no events"
        return (
            f"sent {self.sent:,} events for {len(self.patients):,} patient(s) to {destination} "
            f"in {elapsed:.1f} s ({self.sent / elapsed:,.0f} events/s); {span}"
        )


async def stream(
    events: Iterator[JsonDict],
    send: Send,
    *,
    speed: float,
    rate: float | None,
    stats: Stats,
    progress: Callable[[str], None],
) -> None:
    """Send the events in order: paced on event time (`speed` > 0) and capped at `rate` per second."""
    wall0 = time.monotonic()
    first: datetime | None = None
    rate_next = wall0
    report_at, reported = wall0 + PROGRESS_SECONDS, (wall0, 0)
    for event in events:
        now = time.monotonic()
        delay = 0.0
        if speed > 0:
            ts = datetime.fromisoformat(str(event["ts"]))
            first = first or ts
            delay = (ts - first).total_seconds() / speed - (now - wall0)
        if rate:
            rate_next = max(rate_next, now)
            delay = max(delay, rate_next - now)
            rate_next += 1 / rate
        if delay > 0.002:
            await asyncio.sleep(delay)
            now = time.monotonic()
        await send(event)
        stats.count(event)
        if now >= report_at:
            per_second = (stats.sent - reported[1]) / max(now - reported[0], 1e-9)
            progress(f"sent {stats.sent:,} events ({per_second:,.0f}/s), {stats.position()}")
            report_at, reported = now + PROGRESS_SECONDS, (now, stats.sent)


def _line(event: JsonDict) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


async def write_jsonl(
    plan: Plan,
    first: datetime,
    handle: TextIO,
    *,
    speed: float,
    rate: float | None,
    stats: Stats,
    progress: Callable[[str], None],
) -> None:
    async def send(event: JsonDict) -> None:
        handle.write(_line(event) + "\n")

    await stream(plan(first), send, speed=speed, rate=rate, stats=stats, progress=progress)
    handle.flush()


async def produce(
    plan: Plan,
    first: datetime | None,
    *,
    settings: Settings,
    topic: str,
    speed: float,
    rate: float | None,
    stats: Stats,
    progress: Callable[[str], None],
) -> None:
    """Produce the events to `topic`, keyed by patient_id; the first event is at `first` or now."""
    from aiokafka.errors import KafkaError

    from streams.infra.kafka import kafka_clients

    producer = kafka_clients.producer(settings, linger_ms=5)
    try:
        await producer.start()
    except KafkaError as exc:
        await producer.stop()
        raise SimulateError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
    pending: list[asyncio.Future[Any]] = []

    async def send(event: JsonDict) -> None:
        key = str(event["patient_id"]).encode()
        pending.append(await producer.send(topic, value=_line(event).encode(), key=key))
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending.clear()

    try:
        events = plan(first or _now())
        await stream(events, send, speed=speed, rate=rate, stats=stats, progress=progress)
        await producer.flush()
        await asyncio.gather(*pending)
    except KafkaError as exc:
        raise SimulateError(f"producing to {topic} failed: {exc}") from exc
    finally:
        await producer.stop()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def scenario_table() -> Table:
    table = Table(
        title="ivigwatch simulate scenarios",
        title_justify="left",
        caption=f"default plan (no --scenario): {', '.join(DEMO_SCENARIOS)}",
        caption_justify="left",
    )
    for column in ("scenario", "description", "expected alerts (minimum severity)"):
        table.add_column(column, overflow="fold")
    for scenario in SCENARIOS.values():
        expected = ", ".join(str(x) for x in scenario.expected) or "none"
        if scenario.exclusive:
            expected += "; nothing else at warning or above"
        table.add_row(scenario.name, scenario.description, expected)
    return table


def _plan(names: list[str] | None, patients: int | None, seed: int) -> Plan:
    if patients is not None:
        return lambda first: load_plan(patients, first + LEAD_TIME, seed)
    chosen = tuple(names) if names else DEMO_SCENARIOS
    return lambda first: iter(scenario_plan(chosen, first + LEAD_TIME, seed))


def _start(text: str | None, live: bool) -> datetime | None:
    if text is None:
        return None
    try:
        start = _TIME.validate_python(text).replace(microsecond=0)
    except ValidationError:
        raise typer.BadParameter("not an RFC 3339 time with an offset", param_hint="--start") from None
    if live and start < datetime.now(UTC) - PAST_TOLERANCE:
        raise typer.BadParameter(
            "in the past: old event times would set off stale-data and escalation timers at once "
            "(use --out for old times)",
            param_hint="--start",
        )
    return start


def _check(names: list[str] | None, patients: int | None, speed: float, live: bool) -> None:
    if names and patients is not None:
        raise typer.BadParameter("use either --scenario or --patients", param_hint="--patients")
    unknown = [n for n in names or [] if n not in SCENARIOS]
    if unknown:
        raise typer.BadParameter(
            f"unknown {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}", param_hint="--scenario"
        )
    if live and 0 < speed < 1:
        raise typer.BadParameter("below 1 event times would fall behind the wall clock", param_hint="--speed")


def _check_clock(speed: float, live: bool) -> None:
    """An accelerated run to Kafka needs workers on the simulated clock."""
    if live and speed != 1 and not get_settings().simulated_clock:
        raise typer.BadParameter(
            "event times would run ahead of the wall clock, and a production rule worker dead-letters "
            "events timed more than IVIGWATCH_MAX_CLOCK_SKEW_MINUTES ahead of their arrival: for an "
            "accelerated simulation set IVIGWATCH_SIMULATED_CLOCK=true here and for the workers "
            "(never in production), or use --speed 1",
            param_hint="--speed",
        )


def simulate(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Scenario to run, one patient each (repeatable); default: the demo plan",
            show_default=False,
        ),
    ] = None,
    patients: Annotated[
        int | None,
        typer.Option(min=1, help="Load mode: this many concurrent patients (every 50th with a reaction)"),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Event-time seconds per wall second, 0 = as fast as possible "
            "(default: 60 to Kafka, 0 with --out)",
            show_default=False,
        ),
    ] = None,
    rate: Annotated[float | None, typer.Option(min=0.001, help="At most this many events per second")] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="Time of the first event (RFC 3339); default now. Never in the past when live",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same events")] = 1,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", help="Write JSONL to this file instead of Kafka ('-' = stdout)", show_default=False
        ),
    ] = None,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit")] = False,
) -> None:
    """Simulate home IVIG infusions and produce their events to ivig.events.v1 (or write JSONL)."""
    if list_scenarios:
        Console(highlight=False).print(scenario_table())
        return
    live = out is None
    pace = speed if speed is not None else (DEFAULT_SPEED if live else 0.0)
    _check(scenario, patients, pace, live)
    first = _start(start, live)
    _check_clock(pace, live)
    plan = _plan(scenario, patients, seed)
    stats = Stats(live=live)

    def progress(line: str) -> None:
        _err.print(line, markup=False, soft_wrap=True)

    destination = f"{EVENTS_TOPIC} at {get_settings().bootstrap}" if live else out or "-"
    try:
        if out is None:
            asyncio.run(
                produce(
                    plan,
                    first,
                    settings=get_settings(),
                    topic=EVENTS_TOPIC,
                    speed=pace,
                    rate=rate,
                    stats=stats,
                    progress=progress,
                )
            )
        elif out == "-":
            asyncio.run(
                write_jsonl(
                    plan, first or _now(), sys.stdout, speed=pace, rate=rate, stats=stats, progress=progress
                )
            )
        else:
            with open(out, "w", encoding="utf-8") as handle:
                asyncio.run(
                    write_jsonl(
                        plan, first or _now(), handle, speed=pace, rate=rate, stats=stats, progress=progress
                    )
                )
    except SimulateError as exc:
        _err.print(f"error: {exc}", style="bold red", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except BrokenPipeError:  # the reader went away (`... --out - | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except OSError as exc:
        _err.print(
            f"error: {destination}: {exc.strerror or exc}", style="bold red", markup=False, soft_wrap=True
        )
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        progress("interrupted: " + stats.summary(destination))
        raise typer.Exit(130) from None
    progress(stats.summary(destination))
