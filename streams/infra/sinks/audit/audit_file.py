"""The audit log of patient views as an append-only JSONL file: records, appending, reading back.

One JSON object a line in `<state_dir>/console/audit.jsonl` (directory 0700, file 0600), appended with
one `write` and an fsync per batch: it outlives restarts, needs no server to be up when a nurse looks
at a patient, and is never rewritten. A record holds pseudonymous ids and names only, never a value
(no vitals, symptom, note or evidence): its fields leave no room for one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from streams.infra.state_files import private_directory

log = logging.getLogger(__name__)

FILE_NAME = "audit.jsonl"


class AuditRecord(BaseModel):
    """One view of one patient's data: who (name, role), which patient, what, when, from where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime
    user: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    role: str = Field(pattern=r"^[a-z_]{1,32}$")
    patient: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="pseudonymous patient id")
    what: str = Field(pattern=r"^[a-z][a-z ]{0,39}$", description="e.g. alert list, session data")
    subject: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._:@-]{1,200}$", description="the session or alert id viewed"
    )
    client: str = Field(max_length=100, description="the client's address")


def audit_path(state_dir: Path) -> Path:
    """Where the console appends its audit records."""
    return state_dir / "console" / FILE_NAME


def append_records(path: Path, records: list[AuditRecord]) -> None:
    """Append and fsync `records` in one write (lines of two writers never mix); blocking."""
    if not records:
        return
    data = "".join(r.model_dump_json() + "\n" for r in records).encode("utf-8")
    private_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(
    path: Path,
    *,
    user: str | None = None,
    patient: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[AuditRecord]:
    """The records of the file matching every filter given (time: since <= ts < until), oldest first.
    A line that is not a record (a torn last line after a crash) is skipped with a warning."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = AuditRecord.model_validate(json.loads(line))
            except ValueError:
                log.warning("%s line %d is not an audit record: skipped", path, number)
                continue
            if user is not None and record.user != user:
                continue
            if patient is not None and record.patient != patient:
                continue
            if since is not None and record.ts < since:
                continue
            if until is not None and record.ts >= until:
                continue
            yield record
