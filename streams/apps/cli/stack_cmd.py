"""`ivigwatch stack up|down|status`: the local Kafka broker and InfluxDB."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from deploy import stack
from deploy.processes import ServerError
from streams.infra.settings import get_settings

app = typer.Typer(
    help="Start, stop and inspect the local Kafka broker and InfluxDB.",
    no_args_is_help=True,
)

_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _log(line: str) -> None:
    _out.print(line, markup=False, soft_wrap=True)


def _shown(path: Path | None, state_dir: Path) -> str:
    if path is None:
        return "-"
    try:
        return str(path.relative_to(state_dir.resolve()))
    except ValueError:
        return str(path)


def _table(current: stack.StackStatus, state_dir: Path) -> Table:
    any_local = any(server.mode == "local" for server in current.servers)
    table = Table(
        title="ivigwatch stack",
        title_justify="left",
        caption=f"logs under {state_dir.resolve()}" if any_local else None,
        caption_justify="left",
    )
    for column in ("server", "address", "state", "pid", "log"):
        table.add_column(column, no_wrap=column != "log", overflow="fold")
    for server in current.servers:
        if server.mode == "local":
            name = server.name
            state = "[green]running[/]" if server.running else "[red]stopped[/]"
        else:
            name = f"{server.name} (external)"
            state = "[green]reachable[/]" if server.running else "[red]unreachable[/]"
        table.add_row(
            name,
            server.address,
            state,
            str(server.pid) if server.pid is not None else "-",
            _shown(server.log_path, state_dir),
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
        current = stack.up(settings := get_settings(), log=_log)
    except ServerError as exc:
        raise _fail(exc) from exc
    _out.print(_table(current, settings.state_dir))


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
    settings = get_settings()
    try:
        current = stack.status(settings)
    except ServerError as exc:
        raise _fail(exc) from exc
    _out.print(_table(current, settings.state_dir))
    if not current.all_running:
        raise typer.Exit(code=1)
