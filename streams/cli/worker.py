"""`ivigwatch worker rules|writer`: run one Faust worker in the foreground."""

from __future__ import annotations

import asyncio
import logging

import typer

from streams.app import Role, create_app
from streams.settings import get_settings
from streams.topics import ensure_topics


def worker(role: Role = typer.Argument(..., help="rules (alerts) or writer (InfluxDB)")) -> None:  # noqa: B008
    """Run a Faust worker: `rules` validates events and emits alerts; `writer` fills InfluxDB."""
    import faust

    settings = get_settings()
    asyncio.run(ensure_topics(settings.bootstrap, settings.topic_partitions))
    app = create_app(role, settings)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
