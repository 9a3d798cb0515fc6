"""Each patient's most recent infusion session as the gateway has seen it, for the events of devices
that do not know it (the contract: readings and symptoms after an infusion carry the id of the
patient's most recent infusion). Learnt from the infusion events the gateway produces (the pump's),
kept in `<state_dir>/gateway/sessions.json` so a restart remembers them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from streams.infra.state_files import exclusive, private_directory, write_private

FILE_NAME = "sessions.json"


class SessionMemory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._latest: dict[str, tuple[str, str]] = self._read()
        """patient id -> (the session's latest infusion event time, session id)."""

    def session_of(self, patient_id: str) -> str | None:
        latest = self._latest.get(patient_id)
        return None if latest is None else latest[1]

    def learn(self, patient_id: str, session_id: str, when: datetime) -> None:
        """An infusion event of this session, timed `when`, was produced; a later session replaces an
        earlier one, a late upload of an older one does not."""
        ts = when.astimezone(UTC).isoformat()
        current = self._latest.get(patient_id)
        if current is not None and (current[1] == session_id or current[0] > ts):
            return
        self._latest[patient_id] = (ts, session_id)
        private_directory(self.path.parent)
        with exclusive(self.path.with_suffix(".lock")):
            on_disk = self._read()
            merged = {**on_disk, patient_id: max(on_disk.get(patient_id, ("", "")), (ts, session_id))}
            write_private(self.path, json.dumps(merged))

    def _read(self) -> dict[str, tuple[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(p): (str(v[0]), str(v[1])) for p, v in data.items() if isinstance(v, list) and len(v) == 2
        }
