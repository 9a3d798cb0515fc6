"""Load and validate a roster file (TOML, like the rule file); a bad file names the row and field."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from agents.rules.loader import _row_label
from models.roster import Roster

EXAMPLE_ROSTER_FILE = Path(__file__).parent / "rosters" / "example_roster.toml"


class RosterFileError(ValueError):
    """The roster file cannot be used; the message says which row and field, and why."""


def parse_roster(text: str, origin: str = "<roster>") -> Roster:
    """Validate roster-file text (TOML)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RosterFileError(f"{origin}: not valid TOML: {exc}") from None
    try:
        return Roster.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {_row_label(data, err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors(include_url=False)
        ]
        raise RosterFileError(f"{origin}: {len(lines)} problem(s):\n" + "\n".join(lines)) from None


def load_roster(path: Path) -> Roster:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RosterFileError(f"{path}: cannot read the roster file ({exc.strerror})") from None
    return parse_roster(text, origin=str(path))
