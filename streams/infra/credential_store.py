"""The gateway's credentials on disk: issued, listed and revoked by the CLI, checked by the gateway.

The file lives under `<state_dir>/gateway/` (directory 0700, file 0600) and is replaced atomically
(a temporary file, fsync, rename) under an exclusive lock. A token is shown once, when it is issued:
`ivg_<credential id>_<secret>`; the file keeps the SHA-256 of the secret only (a random 256-bit
secret needs no slow hash), and a check compares in constant time.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from models.credentials import Credential, CredentialKind
from streams.infra.state_files import exclusive, private_directory, write_private

FILE_NAME = "credentials.json"
TOKEN = re.compile(r"^ivg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_ALL = TypeAdapter(list[Credential])


class CredentialFileError(ValueError):
    """The file exists but cannot be read or is not what this module writes (no content is quoted)."""


def credential_path(state_dir: Path) -> Path:
    return state_dir / "gateway" / FILE_NAME


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CredentialStore:
    """Reads and writes one credential file; `check` rereads it only when it changed on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[int, int, dict[str, Credential]] | None = None

    def load(self) -> dict[str, Credential]:
        """Every credential by id ({} when there is no file yet)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialFileError(f"cannot read {self.path} ({type(exc).__name__})") from None
        try:
            items = _ALL.validate_json(raw)
        except ValidationError:
            raise CredentialFileError(f"{self.path} is not a credential file of ivigwatch") from None
        return {c.credential_id: c for c in items}

    def check(self, token: str) -> Credential | None:
        """The live credential a bearer token stands for, or None (unknown, malformed or revoked)."""
        match = TOKEN.fullmatch(token)
        if match is None:
            return None
        credential = self._current().get(match.group(1))
        if credential is None or credential.revoked_at is not None:
            return None
        ok = hmac.compare_digest(credential.secret_sha256, _digest(match.group(2)))
        return credential if ok else None

    def issue(
        self, patient_id: str, kind: CredentialKind, label: str, now: datetime
    ) -> tuple[Credential, str]:
        """A new credential and its token (shown once)."""
        return self.issue_many([(patient_id, kind, label)], now)[0]

    def issue_many(
        self, wanted: list[tuple[str, CredentialKind, str]], now: datetime
    ) -> list[tuple[Credential, str]]:
        """New credentials, (patient, kind, label) each, written in one go; their tokens (shown once)."""
        issued: list[tuple[Credential, str]] = []
        with self._locked() as credentials:
            for patient_id, kind, label in wanted:
                secret = secrets.token_urlsafe(32)
                credential_id = secrets.token_hex(6)
                while credential_id in credentials:
                    credential_id = secrets.token_hex(6)
                credential = Credential(
                    credential_id=credential_id,
                    patient_id=patient_id,
                    kind=kind,
                    label=label,
                    secret_sha256=_digest(secret),
                    issued_at=now,
                )
                credentials[credential_id] = credential
                issued.append((credential, f"ivg_{credential_id}_{secret}"))
        return issued

    def revoke(self, credential_id: str, now: datetime) -> Credential | None:
        """Revoke a credential (None: no such credential); revoking twice keeps the first time."""
        with self._locked() as credentials:
            current = credentials.get(credential_id)
            if current is None:
                return None
            if current.revoked_at is None:
                current = credentials[credential_id] = current.model_copy(update={"revoked_at": now})
            return current

    def _current(self) -> dict[str, Credential]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[:2] != key:
            self._cache = (*key, self.load())
        return self._cache[2]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Credential]]:
        """The credentials under an exclusive lock; written back atomically when the block ends."""
        private_directory(self.path.parent)
        with exclusive(self.path.with_suffix(".lock")):
            credentials = self.load()
            yield credentials
            write_private(self.path, json.dumps([c.model_dump(mode="json") for c in credentials.values()]))
