"""`ivigwatch cohort`: alarm burden and sensitivity of the rules on a simulated cohort (issue 14).

A fixed, seeded model of home IVIG infusions (streams/apps/cohort/) runs through the same rule
engine as replay; the figures go to stdout, progress to stderr. Same options, same figures.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from agents.rules.loader import RuleFileError, load_rules
from streams.apps.cohort import nurse_limits as nurse_limits_model
from streams.apps.cohort.figures import as_json, model_parameters, render, summarise
from streams.apps.cohort.paging import definition
from streams.apps.cohort.run import SessionOutcome, run_cohort

DEFAULT_SESSIONS = 1000
DEFAULT_SEED = 14
"""The cohort's fixed seed: baselines and tuned rules are compared on the same simulated patients."""
DEFAULT_SERIOUS_SHARE = 0.05
PROGRESS_EVERY = 100


def cohort_command(
    sessions: int = typer.Option(DEFAULT_SESSIONS, "--sessions", min=1, help="How many simulated sessions"),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the cohort model"),
    serious_share: float = typer.Option(
        DEFAULT_SERIOUS_SHARE,
        "--serious-share",
        min=0.0,
        max=1.0,
        help="Share of sessions with a serious event",
    ),
    nurse: bool = typer.Option(True, "--nurse/--no-nurse", help="A simulated nurse acknowledges pages"),
    nurse_limits: bool = typer.Option(
        False,
        "--nurse-limits/--no-nurse-limits",
        help="The nurse also sets plausible per-patient limits and snoozes (contract v2 actions)",
    ),
    rules: Path | None = typer.Option(  # noqa: B008
        None, "--rules", help="Measure this rule file instead of the default rule set"
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as one JSON object"),
) -> None:
    """Run simulated home infusions through the rules; print pages per 100 uneventful
    infusion-hours and per post-infusion patient-day by condition, and sensitivity per serious event."""
    try:
        ruleset = load_rules(rules)
    except RuleFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    began = time.monotonic()
    outcomes: list[SessionOutcome] = []
    for outcome in run_cohort(sessions, seed, serious_share, ruleset, nurse=nurse, limits=nurse_limits):
        outcomes.append(outcome)
        if len(outcomes) % PROGRESS_EVERY == 0 and len(outcomes) < sessions:
            typer.echo(
                f"cohort: {len(outcomes)}/{sessions} sessions, {time.monotonic() - began:.0f} s", err=True
            )
    figures = summarise(outcomes)
    parameters = model_parameters() + (list(nurse_limits_model.PARAMETERS) if nurse_limits else [])
    rerun = (
        f"ivigwatch cohort --sessions {sessions} --seed {seed} --serious-share {serious_share:g}"
        + ("" if nurse else " --no-nurse")
        + (" --nurse-limits" if nurse_limits else "")
        + (f" --rules {rules}" if rules else "")
    )
    if json_out:
        header = {
            "sessions": sessions,
            "seed": seed,
            "serious_share": serious_share,
            "nurse": nurse,
            "nurse_limits": nurse_limits,
            "rules": {
                "id": ruleset.ruleset.id,
                "version": ruleset.version,
                "file": str(rules) if rules else None,
            },
            "page_definition": definition(),
            "rerun": rerun,
        }
        typer.echo(json.dumps(as_json(figures, header, parameters), indent=2))
    else:
        header_lines = [
            f"ivigwatch cohort: {sessions} sessions, seed {seed}, serious share {serious_share:g}, "
            f"simulated nurse {'acknowledges pages' if nurse else 'off'}"
            + (", sets per-patient limits and snoozes" if nurse_limits else ""),
            f"rules: {ruleset.ruleset.id} {ruleset.version}"
            + (f" ({rules})" if rules else " (default rule file)"),
            definition(),
            f"rerun: {rerun}",
        ]
        typer.echo(render(figures, header_lines, parameters))
    typer.echo(f"cohort: {sessions} sessions in {time.monotonic() - began:.0f} s", err=True)
