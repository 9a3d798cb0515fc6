"""`ivigwatch console`: run the nurse console; `ivigwatch console hash-password`: make an account's hash."""

from __future__ import annotations

import asyncio
import logging

import typer
from aiokafka.errors import KafkaConnectionError

from agents.rules.loader import RuleFileError
from streams.apps.cli.stop_signal import stop_on_signal
from streams.apps.cli.unreachable import kafka_unreachable
from streams.infra.settings import Settings, get_settings

app = typer.Typer(
    help="The nurse console: live open alerts, ack/resolve/note, session charts (a web page).",
    no_args_is_help=False,
    invoke_without_command=True,
)


@app.callback()
def console(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Interface to bind (default IVIGWATCH_CONSOLE_HOST)"),
    port: int | None = typer.Option(None, help="Port (default IVIGWATCH_CONSOLE_PORT; 0 = any free port)"),
) -> None:
    """Run the nurse console in the foreground and print its URL (Ctrl-C to stop)."""
    if ctx.invoked_subcommand is not None:
        return
    from streams.apps.console.auth import AccountsError
    from streams.apps.console.clients import TrustedProxiesError
    from streams.apps.console.hosts import HostsError
    from streams.apps.console.sso import SsoSettingsError

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # until connected: we say it in one line
    try:
        asyncio.run(_serve(settings, host, port))
    except (AccountsError, HostsError, TrustedProxiesError, SsoSettingsError) as exc:
        typer.echo(f"cannot start the console: {exc}", err=True)
        raise typer.Exit(2) from None
    except RuleFileError as exc:
        typer.echo(f"cannot start the console: {exc}", err=True)
        raise typer.Exit(2) from None
    except KafkaConnectionError:
        typer.echo(
            kafka_unreachable(settings.bootstrap),
            err=True,
        )
        raise typer.Exit(1) from None
    except OSError as exc:  # the port is taken, or the interface does not exist
        typer.echo(f"cannot serve the console on {host or settings.console_host}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None


async def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    from streams.apps.console.web_app import running_console

    stop = stop_on_signal()
    async with running_console(settings, host, port, ready_timeout=0) as url:
        logging.getLogger("aiokafka").setLevel(logging.WARNING)
        typer.echo(f"Nurse console on {url}/ (alerts from {settings.bootstrap}; Ctrl-C to stop)")
        await stop.wait()
    typer.echo("console stopped")


@app.command("hash-password")
def hash_password_command() -> None:
    """Prompt for a password (twice, not echoed) and print its scrypt hash for IVIGWATCH_CONSOLE_USERS."""
    from streams.apps.console.auth import hash_password

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < 8:
        typer.echo("use at least 8 characters", err=True)
        raise typer.Exit(2)
    typer.echo(hash_password(password))
