"""The `ivigwatch` command line."""

from __future__ import annotations

import typer

from streams.apps.cli import influx_cmd, roster_cmd, rules_cmd, stack_cmd
from streams.apps.cli.alerts_cmd import alerts_command
from streams.apps.cli.audit_cmd import audit_command
from streams.apps.cli.cohort_cmd import cohort_command
from streams.apps.cli.console_cmd import app as console_app
from streams.apps.cli.demo_cmd import demo
from streams.apps.cli.export_cmd import app as export_app
from streams.apps.cli.gateway_cmd import app as gateway_app
from streams.apps.cli.import_cmd import import_command
from streams.apps.cli.limits_cmd import limit_command, snooze_command
from streams.apps.cli.nurse_cmd import ack_command, handover_command, note_command, resolve_command
from streams.apps.cli.query_cmd import app as query_app
from streams.apps.cli.replay_cmd import replay_command
from streams.apps.cli.report_cmd import report_command
from streams.apps.cli.simulate_cmd import simulate
from streams.apps.cli.watchdog_cmd import watchdog
from streams.apps.cli.worker_cmd import worker
from streams.infra.settings import LocalSecretsMissing

app = typer.Typer(
    name="ivigwatch",
    help="Remote monitoring of home IVIG infusions.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(stack_cmd.app, name="stack")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(roster_cmd.app, name="roster")
app.add_typer(influx_cmd.app, name="influx")
app.command()(worker)
app.command("replay")(replay_command)
app.command("cohort")(cohort_command)
app.command("report")(report_command)
app.command("alerts")(alerts_command)
app.add_typer(console_app, name="console")
app.add_typer(gateway_app, name="gateway")
app.command("ack")(ack_command)
app.command("resolve")(resolve_command)
app.command("note")(note_command)
app.command("handover")(handover_command)
app.command("limit")(limit_command)
app.command("snooze")(snooze_command)
app.add_typer(export_app, name="export")
app.command("import")(import_command)
app.add_typer(query_app, name="query")
app.command("audit")(audit_command)
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
