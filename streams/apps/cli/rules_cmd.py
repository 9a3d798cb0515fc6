"""`ivigwatch rules show|check`: the active rule set as a readable table; validate a proposed file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from agents.rules.loader import RuleFileError, load_rules
from agents.rules.registry import rule_lines
from models.ruleset import RuleSet
from streams.infra.settings import get_settings

app = typer.Typer(
    help="Show the active clinical rule set, or check a proposed rule file.", no_args_is_help=True
)


def _load(file: Path | None) -> RuleSet:
    try:
        return load_rules(file)
    except RuleFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@app.command("show")
def show(
    file: Path | None = typer.Option(None, "--file", help="Show this rule file instead of the active one"),  # noqa: B008
) -> None:
    """Print the active rule set (IVIGWATCH_RULES_FILE, else the default) as a table."""
    rules = _load(file if file is not None else get_settings().rules_file)
    console = Console(width=max(Console().width, 160))
    info = rules.ruleset
    console.print(f"[bold]{info.id}[/bold] version [bold]{info.version}[/bold]: {info.source}")
    table = Table(show_lines=False, header_style="bold")
    table.add_column("rule id", no_wrap=True)
    table.add_column("condition", no_wrap=True)
    table.add_column("trigger", ratio=3)
    table.add_column("severity", ratio=1)
    table.add_column("when", ratio=1)
    table.add_column("source", ratio=2)
    for line in rule_lines(rules):
        table.add_row(line.id, line.condition, line.trigger, line.severity, line.when, line.source)
    console.print(table)
    t = rules.timing
    console.print(
        f"Together window {t.together_minutes:g} min; baseline {t.baseline_pre_minutes:g} min before "
        f"start, else {t.baseline_post_start_minutes:g} min after; post-early {t.post_early_hours:g} h, "
        f"post-late {t.post_late_days:g} days; resolve after {t.resolve_after_minutes:g} min clear "
        f"(hysteresis: temperature {rules.hysteresis.temperature_c:g} C, SpO2 {rules.hysteresis.spo2:g}, "
        f"weight {rules.hysteresis.weight_kg:g} kg, others {rules.hysteresis.default:g}); "
        f"escalate critical after {t.escalate_critical_minutes:g} min, urgent after "
        f"{t.escalate_urgent_minutes:g} min, up to level {t.max_escalation_level}."
    )
    console.print(f"NEWS2 rounding: {rules.early_warning_score.rounding}.")


@app.command("check")
def check(file: Path = typer.Argument(..., help="The proposed rule file (TOML)")) -> None:  # noqa: B008
    """Validate a proposed rule file; exit 2 with each problem's row and field when it is bad."""
    rules = _load(file)
    typer.echo(
        f"{file}: OK, {rules.ruleset.id} version {rules.version}, {len(rule_lines(rules))} rows. "
        f"Replay recorded sessions under it with: ivigwatch replay FILE.jsonl --rules {file}"
    )
