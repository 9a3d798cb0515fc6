"""`ivigwatch worker rules|writer|pager`: run one Faust worker in the foreground."""

from __future__ import annotations

import asyncio
import logging

import typer
from aiokafka.errors import KafkaConnectionError

from agents.rules.loader import RuleFileError, load_rules
from streams.apps.cli.unreachable import kafka_unreachable
from streams.apps.worker_app import Role, create_app
from streams.infra.kafka.topics import ensure_topics
from streams.infra.process_tuning import quieter_garbage_collection
from streams.infra.settings import Settings, get_settings


def _check_pager(settings: Settings) -> None:
    """A bad roster, a missing secret or no webhook stops the pager bridge before anything connects."""
    from agents.pager_agent import roster_from_settings
    from streams.infra.sinks.pager.webhook_client import webhook_problem

    if settings.pager_roster_file is not None:
        try:
            roster_from_settings(settings)
        except ValueError as exc:
            message = str(exc).removeprefix("cannot start the pager bridge: ")
            typer.echo(f"cannot start the pager bridge: {message}", err=True)
            raise typer.Exit(2) from None
    elif problem := webhook_problem(settings.pager_webhook):
        typer.echo(f"cannot start the pager bridge: {problem}", err=True)
        raise typer.Exit(2)


def worker(role: Role = typer.Argument(..., help="rules, writer or pager (roster or webhook)")) -> None:  # noqa: B008
    """Run a Faust worker: `rules` emits alerts; `writer` fills InfluxDB; `pager` pages urgent alerts."""
    import faust

    settings = get_settings()
    if role is Role.RULES:
        try:
            load_rules(settings.rules_file)  # a bad rule file stops start-up before anything connects
        except RuleFileError as exc:
            typer.echo(f"cannot start the rules worker: {exc}", err=True)
            raise typer.Exit(2) from None
    if role is Role.PAGER:
        _check_pager(settings)
    try:
        asyncio.run(ensure_topics(settings))
    except KafkaConnectionError:
        typer.echo(
            kafka_unreachable(settings.bootstrap),
            err=True,
        )
        raise typer.Exit(1) from None
    app = create_app(role, settings)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    quieter_garbage_collection()
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()
