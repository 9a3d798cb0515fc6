"""`ivigwatch alerts`: follow `ivig.alerts.v1` as a live, colour-coded list for the on-call nurse."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text

from models.alerts import Alert, AlertStatus, Severity
from streams.infra.kafka import kafka_clients
from streams.infra.kafka.topics import ALERTS_TOPIC
from streams.infra.settings import Settings, get_settings

STYLE = {
    Severity.INFO: "dim",
    Severity.WARNING: "yellow",
    Severity.URGENT: "bold dark_orange",
    Severity.CRITICAL: "bold white on red",
}


def render(alert: Alert) -> Text:
    """One alert as one or two lines a nurse reads first."""
    status = alert.status.value.upper()
    if alert.status is AlertStatus.ESCALATED:
        status += f" L{alert.escalation_level}"
    head = Text()
    head.append(f"{alert.ts:%H:%M:%S} ", style="dim")
    head.append(f" {alert.severity.value.upper():8} ", style=STYLE[alert.severity])
    head.append(f" {status:13} ", style="bold" if alert.status is AlertStatus.FIRING else "")
    head.append(f"{alert.patient_id}  {alert.title}", style="bold")
    head.append(f"  [{alert.alert_id}]", style="dim")
    if alert.status in (AlertStatus.FIRING, AlertStatus.ESCALATED):
        head.append(f"\n           why: {alert.evidence.summary}\n           do:  {alert.action}")
    elif alert.by:
        head.append(f"\n           by {alert.by}" + (f": {alert.note}" if alert.note else ""))
    return head


async def follow(
    settings: Settings,
    on_alert: Callable[[Alert], None],
    stop: asyncio.Event,
    from_beginning: bool = False,
    ready: asyncio.Event | None = None,
) -> None:
    """Call `on_alert` for every alert message until `stop` is set; `ready` is set once the
    consumer's position is pinned, so nothing produced after that can be missed."""
    consumer = kafka_clients.consumer(
        settings,
        ALERTS_TOPIC,
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        if not from_beginning:
            await consumer.seek_to_end()
            for tp in consumer.assignment():
                await consumer.position(tp)
        if ready is not None:
            ready.set()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for message in messages:
                    try:
                        on_alert(Alert.model_validate_json(message.value or b""))
                    except ValidationError:
                        continue
    finally:
        await consumer.stop()


def alerts_command(
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Show earlier alerts too"),
    minimum: Severity = typer.Option(Severity.INFO, "--min", help="Hide alerts below this severity"),  # noqa: B008
) -> None:
    """Follow the on-call alerts live (Ctrl-C to stop)."""
    settings = get_settings()
    console = Console()
    seen: Counter[str] = Counter()

    def show(alert: Alert) -> None:
        if alert.severity.rank >= minimum.rank:
            seen[alert.severity.value] += 1
            console.print(render(alert))

    console.print(f"Following {ALERTS_TOPIC} on {settings.bootstrap} (Ctrl-C to stop)", style="dim")
    stop = asyncio.Event()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(follow(settings, show, stop, from_beginning))
    console.print(f"{sum(seen.values())} alert messages shown", style="dim")
