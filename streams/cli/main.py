"""The `ivigwatch` command line."""

from __future__ import annotations

import typer

from streams.cli import influx, rules, stack
from streams.cli.alerts import alerts_command
from streams.cli.console import app as console_app
from streams.cli.demo import demo
from streams.cli.export import app as export_app
from streams.cli.importer import import_command
from streams.cli.nurse import ack_command, note_command, resolve_command
from streams.cli.query import app as query_app
from streams.cli.replay import replay_command
from streams.cli.report import report_command
from streams.cli.simulate import simulate
from streams.cli.watchdog import watchdog
from streams.cli.worker import worker
from streams.settings import LocalSecretsMissing

app = typer.Typer(
    name="ivigwatch",
    help="Remote monitoring of home IVIG infusions.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(rules.app, name="rules")
app.add_typer(influx.app, name="influx")
app.command()(worker)
app.command("replay")(replay_command)
app.command("report")(report_command)
app.command("alerts")(alerts_command)
app.add_typer(console_app, name="console")
app.command("ack")(ack_command)
app.command("resolve")(resolve_command)
app.command("note")(note_command)
app.add_typer(export_app, name="export")
app.command("import")(import_command)
app.add_typer(query_app, name="query")
app.command()(simulate)
app.command()(demo)
app.command()(watchdog)


def main() -> None:
    try:
        app()
    except LocalSecretsMissing as exc:  # the secured local stack was never started here
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
