"""The console's side of the audit log: every answer showing a patient's data is recorded (who,
role, which patient, what, when, from where) in the audit file (`streams.infra.sinks.audit`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from streams.apps.console import access
from streams.apps.console.clients import client_of
from streams.infra.sinks.audit.audit_file import AuditRecord, append_records

log = logging.getLogger(__name__)


class AuditLog:
    """Appends the console's records to one audit file, off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def record(self, records: list[AuditRecord]) -> None:
        """Append `records`; a failure is logged (never the records' content) and the view goes on:
        an on-call nurse is never kept from an alert because the disk is full."""
        try:
            await asyncio.to_thread(append_records, self.path, records)
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


def patients_shown(payload: dict[str, Any]) -> list[str]:
    """The patients an alert-list snapshot, one alert view or a caseload board shows (not "-": the
    pipeline's own alerts)."""
    if "patient_id" in payload:
        views = [payload]
    else:
        views = [view for key in ("open", "resolved", "rows") for view in payload.get(key, [])]
    return [view["patient_id"] for view in views if view["patient_id"] != "-"]
