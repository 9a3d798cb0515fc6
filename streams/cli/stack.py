"""`ivigwatch stack up|down|status`: the local Kafka broker and InfluxDB."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from deploy import stack
from deploy.processes import ServerError
from streams.settings import get_settings

app = typer.Typer(
    help="Start, stop and inspect the local Kafka broker and InfluxDB.",
    no_args_is_help=True,
)

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _log(line: str) -> None:
    _out.print(line, markup=False)


def _table(current: stack.StackStatus) -> Table:
    table = Table(title="ivigwatch stack", title_justify="left")
    for column in ("server", "mode", "address", "state", "pid", "log"):
        table.add_column(column, no_wrap=column != "log")
    for server in current.servers:
        if server.mode == "local":
            state = "[green]running[/]" if server.running else "[red]stopped[/]"
        else:
            state = "[green]reachable[/]" if server.running else "[red]unreachable[/]"
        table.add_row(
            server.name,
            server.mode,
            server.address,
            state,
            str(server.pid) if server.pid is not None else "-",
            str(server.log_path) if server.log_path is not None else "-",
        )
    return table


def _fail(exc: ServerError) -> typer.Exit:
    _err.print("error: ", style="bold red", end="")
    _err.print(str(exc), markup=False, soft_wrap=True)
    return typer.Exit(code=1)


@app.command()
def up() -> None:
    """Start the local servers (reusing running ones) and wait until they are ready."""
    try:
        current = stack.up(get_settings(), log=_log)
    except ServerError as exc:
        raise _fail(exc) from exc
    _out.print(_table(current))


@app.command()
def down() -> None:
    """Stop the local servers (controlled shutdown)."""
    try:
        stack.down(get_settings(), log=_log)
    except ServerError as exc:
        raise _fail(exc) from exc


@app.command()
def status() -> None:
    """Show each server; exit code 1 when one is not running (or not reachable)."""
    current = stack.status(get_settings())
    _out.print(_table(current))
    if not current.all_running:
        raise typer.Exit(code=1)
