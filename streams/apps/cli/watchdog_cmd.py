"""`ivigwatch watchdog`: the pipeline watchdog in the foreground (outside the workers' processes)."""

from __future__ import annotations

import asyncio
import logging

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError

from agents.rules.loader import RuleFileError
from streams.apps.cli.stop_signal import stop_on_signal
from streams.apps.cli.unreachable import kafka_unreachable
from streams.apps.watchdog.journal import JournalError
from streams.infra.kafka.topics import ensure_topics
from streams.infra.settings import Settings, get_settings


def watchdog() -> None:
    """Raise a critical `pipeline_stalled` alert when the rule worker stops processing events or answering."""
    from streams.apps.watchdog import service

    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
    )
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    try:
        service.limits_of(settings)
    except RuleFileError as exc:
        typer.echo(f"cannot start the watchdog: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(ensure_topics(settings))
        asyncio.run(_run(settings))
    except (KafkaConnectionError, OSError) as exc:
        message = kafka_unreachable(settings.bootstrap) if isinstance(exc, KafkaConnectionError) else str(exc)
        typer.echo(f"cannot start the watchdog: {message}", err=True)
        raise typer.Exit(1) from None
    except (KafkaError, JournalError) as exc:
        typer.echo(f"cannot start the watchdog: {exc}", err=True)
        raise typer.Exit(1) from None


async def _run(settings: Settings) -> None:
    from streams.apps.watchdog import service

    stop = stop_on_signal()
    await service.run(settings, stop)
