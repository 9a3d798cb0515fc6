"""Ended console sessions on disk (nonce -> expiry), so a logout outlives a restart of the console.

The file lives under `<state_dir>/console/` (directory 0700, file 0600), is replaced atomically (a
temporary file, fsync, rename) and holds only sessions that have not expired yet. A save merges what
is on disk (another console process on the same state dir) under an exclusive lock. It holds no names
or passwords: a nonce alone opens nothing.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from streams.infra.state_files import exclusive, private_directory, write_private

FILE_NAME = "revoked-sessions.json"
NONCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class RevocationFileError(ValueError):
    """The file exists but cannot be read or is not what this module writes (no content is quoted)."""


def revocation_path(state_dir: Path) -> Path:
    """Where the console keeps its ended sessions."""
    return state_dir / "console" / FILE_NAME


def _pruned(revoked: dict[str, float], now: float) -> dict[str, float]:
    return {nonce: ends for nonce, ends in revoked.items() if ends > now}


class RevocationStore:
    """Reads and writes one revocation file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, now: float) -> dict[str, float]:
        """The unexpired revocations on disk ({} when there is no file yet)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise RevocationFileError(f"cannot read {self.path} ({type(exc).__name__})") from None
        try:
            data = json.loads(text)
            revoked = data["revoked"] if isinstance(data, dict) else None
        except (ValueError, KeyError):
            revoked = None
        if not isinstance(revoked, dict) or not all(
            isinstance(n, str) and NONCE.fullmatch(n) and isinstance(e, int | float) and math.isfinite(e)
            for n, e in revoked.items()
        ):
            raise RevocationFileError(f"{self.path} is not a revocation file written by the console")
        return _pruned({n: float(e) for n, e in revoked.items()}, now)

    def save(self, revoked: dict[str, float], now: float) -> dict[str, float]:
        """Merge `revoked` with the file, drop what has expired, write it back; returns the merged set.
        Raises OSError when the directory or file cannot be written."""
        directory = self.path.parent
        private_directory(directory)
        with exclusive(directory / (FILE_NAME + ".lock")):
            try:
                merged = {**self.load(now), **revoked}
            except RevocationFileError:
                merged = dict(revoked)  # replaced by what this process knows
            merged = _pruned(merged, now)
            write_private(self.path, json.dumps({"version": 1, "revoked": merged}, sort_keys=True))
        return merged
