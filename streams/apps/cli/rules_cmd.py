"""`ivigwatch rules show|check`: the active rule set as a readable table; validate a proposed file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from agents.rules.loader import RuleFileError, load_rules
from agents.rules.thresholds import limits_text
from models.rule_common import ALL_PHASES, Phase
from models.ruleset import RuleSet
from streams.infra.settings import get_settings

app = typer.Typer(
    help="Show the active clinical rule set, or check a proposed rule file.", no_args_is_help=True
)


@dataclass(frozen=True, slots=True)
class RuleLine:
    """One row of the rule set as a care team reads it."""

    id: str
    condition: str
    trigger: str
    severity: str
    when: str
    source: str


def _when(phases: tuple[Phase, ...] | list[Phase]) -> str:
    return "any" if tuple(phases) == ALL_PHASES else ", ".join(p.value for p in phases)


def _names(values: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(values))


def rule_lines(rules: RuleSet) -> list[RuleLine]:
    """Every row of the rule set, in the order of the file's sections."""
    t, risk = rules.timing, rules.risk
    lines = [
        RuleLine(
            r.id,
            r.condition.value,
            f"{r.vital} {limits_text(r)}",
            r.severity.value,
            _when(r.phases),
            r.source,
        )
        for r in rules.threshold
    ]
    news = rules.early_warning_score
    lines += [
        RuleLine(
            tier.id,
            "early_warning_score",
            f"NEWS2 total >= {tier.total_at_least}"
            if tier.total_at_least is not None
            else f"any NEWS2 parameter scoring {tier.any_parameter_score}",
            tier.severity.value,
            _when(news.phases),
            tier.source,
        )
        for tier in news.tiers
    ]
    reaction = rules.infusion_reaction
    lines.append(
        RuleLine(
            reaction.id,
            "infusion_reaction",
            f"any of {_names(reaction.side_effects)}; {reaction.raised_severity.value} if severe, scored "
            f"{reaction.severe_score:g}+, {reaction.together_count}+ together or with a vital-sign alert; "
            f"{reaction.red_flag_severity.value} for {_names(reaction.red_flags)}",
            reaction.severity.value,
            _when(reaction.phases),
            reaction.source,
        )
    )
    ana = rules.anaphylaxis
    lines.append(
        RuleLine(
            ana.id,
            "anaphylaxis",
            f"skin ({_names(ana.skin)}) with breathing ({_names(ana.breathing)}, SpO2 <= "
            f"{ana.breathing_spo2_at_most:g}), low pressure or {_names(ana.neuro)}; or two systems incl. "
            f"GI ({_names(ana.gastro)}); or low pressure alone; or {_names(ana.alone)} alone",
            ana.severity.value,
            _when(ana.phases),
            ana.source,
        )
    )
    resp = rules.respiratory_compromise
    breathing = _names(resp.breathing_symptoms)
    for row, trigger in (
        (
            resp.with_vitals,
            f"{breathing} with SpO2 <= {resp.spo2_at_most:g} or rate >= {resp.respiratory_rate_at_least:g}",
        ),
        (resp.alone, f"{breathing} alone"),
        (
            resp.myasthenia,
            f"myasthenia: {_names(resp.myasthenia.symptoms)}, or breathing rate +"
            f"{resp.myasthenia.respiratory_rate_rise_at_least:g} over baseline",
        ),
    ):
        severity = " / ".join(f"{p.value} {s.value}" for p, s in row.severity.items())
        lines.append(
            RuleLine(
                row.id, "respiratory_compromise", trigger, severity, _when(list(row.severity)), row.source
            )
        )
    for symptom_row in rules.symptom_rule:
        groups = " with ".join(
            ("severe " if g.severe else "") + " or ".join(sorted(g.any_of)) for g in symptom_row.all_of
        )
        trigger = f"reported {groups}"
        if symptom_row.raised_with is not None and symptom_row.raised_severity is not None:
            trigger += f"; {symptom_row.raised_severity.value} with {symptom_row.raised_with.describe()}"
        when = _when(symptom_row.phases)
        if symptom_row.until_hours_after_stop is not None:
            when += f" (to {symptom_row.until_hours_after_stop:g} h after stop)"
        lines.append(
            RuleLine(
                symptom_row.id,
                symptom_row.condition.value,
                trigger,
                symptom_row.severity.value,
                when,
                symptom_row.source,
            )
        )
    stale = rules.stale_data
    lines.append(
        RuleLine(
            stale.id,
            "stale_data",
            f"no vitals for {t.stale_warning_minutes:g} / {t.stale_urgent_minutes:g} min "
            f"(x{risk.stale_limit_factor:g} for high risk)",
            " / ".join(s.value for s in stale.severities),
            "infusing",
            stale.source,
        )
    )
    base = rules.baseline
    lines.append(
        RuleLine(
            base.id,
            "baseline_missing",
            f"no baseline for {', '.join(base.expected_vitals)} "
            f"{t.baseline_post_start_minutes:g} min after start",
            base.severity.value,
            "infusing",
            base.source,
        )
    )
    high = rules.high_risk_session
    lines += [
        RuleLine(
            high.tightened.id,
            "high_risk_session",
            f"profile risk factor ({_names(risk.tightening_factors)}): relative limits x"
            f"{risk.relative_limit_factor:g}, stale limits x{risk.stale_limit_factor:g}",
            high.tightened.severity.value,
            "pre, or start",
            high.tightened.source,
        ),
        RuleLine(
            high.no_epinephrine.id,
            "high_risk_session",
            "epinephrine_available false: do not start",
            high.no_epinephrine.severity.value,
            "pre, or start",
            high.no_epinephrine.source,
        ),
        RuleLine(
            high.baseline_fever.id,
            "high_risk_session",
            f"baseline temperature >= {high.baseline_fever.temperature_at_least:g}: do not start",
            high.baseline_fever.severity.value,
            "pre, or start",
            high.baseline_fever.source,
        ),
    ]
    return lines


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
