"""The audit log of patient views: who (name, role) saw which patient's data, what, when, from where.

One JSON object a line, appended to `<state_dir>/console/audit.jsonl` (directory 0700, file 0600, one
`write` and an fsync per view): it outlives restarts, needs no server to be up when a nurse looks at a
patient, and is never rewritten. A record holds pseudonymous ids and names only, never a value (no
vitals, symptom, note or evidence). Admins query it (`GET /api/audit`, `ivigwatch audit`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from streams.apps.console import access
from streams.apps.console.clients import client_of
from streams.apps.console.roles import Role
from streams.infra.state_files import private_directory

log = logging.getLogger(__name__)

FILE_NAME = "audit.jsonl"
_ID = r"^[A-Za-z0-9._:@-]{1,200}$"


class AuditRecord(BaseModel):
    """One view of one patient's data (no values: ids, names and what was seen)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: datetime
    user: str = Field(pattern=r"^[A-Za-z0-9._@-]{1,64}$")
    role: Role
    patient: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="pseudonymous patient id")
    what: str = Field(pattern=r"^[a-z][a-z ]{0,39}$", description="e.g. alert list, session data")
    subject: str | None = Field(None, pattern=_ID, description="the session or alert id viewed")
    client: str = Field(max_length=100, description="the client's address")


def audit_path(state_dir: Path) -> Path:
    """Where the console appends its audit records."""
    return state_dir / "console" / FILE_NAME


class AuditLog:
    """Appends records to one audit file (a single write per batch: lines of two consoles never mix)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, records: list[AuditRecord]) -> None:
        """Blocking: append and fsync `records` (call through `record`)."""
        if not records:
            return
        data = "".join(r.model_dump_json() + "\n" for r in records).encode("utf-8")
        private_directory(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def record(self, records: list[AuditRecord]) -> None:
        """Append `records`; a failure is logged (never the records' content) and the view goes on:
        an on-call nurse is never kept from an alert because the disk is full."""
        try:
            await asyncio.to_thread(self.append, records)
        except OSError as exc:
            log.error(  # noqa: TRY400 - the traceback would say no more than this
                "could not write %d audit records to %s (%s)",
                len(records),
                self.path,
                exc.strerror or type(exc).__name__,
            )


AUDIT_KEY = web.AppKey("audit_log", AuditLog)


async def viewed(
    request: web.Request, patients: Iterable[str], what: str, subject: str | None = None
) -> None:
    """Record that the request's user saw these patients' data (one record per distinct patient)."""
    now = datetime.now(UTC)
    user, role, client = access.nurse(request), access.role(request), client_of(request)[:100]
    records = [
        AuditRecord(ts=now, user=user, role=role, patient=p, what=what, subject=subject, client=client)
        for p in dict.fromkeys(patients)
    ]
    await request.app[AUDIT_KEY].record(records)


def patients_in(snapshot: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The patients whose alerts an alert-list snapshot shows (not "-": the pipeline's own alerts)."""
    views = [view for key in ("open", "resolved") for view in snapshot.get(key, [])]
    return [view["patient_id"] for view in views if view["patient_id"] != "-"]


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
