"""Load and validate a roster file (TOML, like the rule file); a bad file names the row and field."""

from __future__ import annotations

from pathlib import Path

from agents.rules.loader import parse_toml_model
from models.roster import Roster

EXAMPLE_ROSTER_FILE = Path(__file__).parent / "rosters" / "example_roster.toml"


class RosterFileError(ValueError):
    """The roster file cannot be used; the message says which row and field, and why."""


def parse_roster(text: str, origin: str = "<roster>") -> Roster:
    """Validate roster-file text (TOML)."""
    return parse_toml_model(text, origin, Roster, RosterFileError)


def load_roster(path: Path) -> Roster:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RosterFileError(f"{path}: cannot read the roster file ({exc.strerror})") from None
    return parse_roster(text, origin=str(path))
