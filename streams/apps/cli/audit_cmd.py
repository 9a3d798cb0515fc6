"""`ivigwatch audit`: who looked at which patient's data in the console (the audit log, for admins).

It reads `<state_dir>/console/audit.jsonl` on this machine (owner-only: whoever can read it runs the
console); the console's admins query the same records at GET /api/audit.
"""

from __future__ import annotations

from typing import Annotated

import typer

from streams.apps.cli.query_cmd import Since, Until, _period
from streams.infra.settings import get_settings
from streams.infra.sinks.audit.audit_file import audit_path, read_records

User = Annotated[str | None, typer.Option(help="Only this console user's views")]
Patient = Annotated[str | None, typer.Option(help="Only views of this patient (pseudonymous id)")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON record a line instead of a table")]


def audit_command(
    user: User = None,
    patient: Patient = None,
    since: Since = None,
    until: Until = None,
    as_json: AsJson = False,
) -> None:
    """List the console's audit records of patient views: when, who (role), which patient, what, where."""
    start, end = _period(since, until)
    path = audit_path(get_settings().state_dir)
    records = list(read_records(path, user=user, patient=patient, since=start, until=end))
    if as_json:
        for record in records:
            typer.echo(record.model_dump_json())
        return
    if not records:
        typer.echo(f"no audit records match (in {path})", err=True)
        return
    typer.echo("time\tuser\trole\tpatient\twhat\tsession or alert\tclient")
    for r in records:
        ts = r.ts.isoformat().replace("+00:00", "Z")
        typer.echo(f"{ts}\t{r.user}\t{r.role}\t{r.patient}\t{r.what}\t{r.subject or '-'}\t{r.client}")
