"""Load and validate a rule file; a bad file stops start-up with an error naming the row and field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from models.ruleset import RuleSet

M = TypeVar("M", bound=BaseModel)

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.toml")


class RuleFileError(ValueError):
    """The rule file cannot be used; the message says which row and field, and why."""


def _row_label(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            row_id = item.get("id") if isinstance(item, dict) else None  # a list of words has no ids
            parts[-1] += f"[{part}]" + (f" (id={row_id})" if row_id else "")
        else:
            parts.append(str(part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(file)"


def parse_rules(text: str, origin: str = "<rules>") -> RuleSet:
    """Validate rule-file text (TOML)."""
    return parse_toml_model(text, origin, RuleSet, RuleFileError)


def parse_toml_model(text: str, origin: str, model: type[M], error: type[ValueError]) -> M:
    """Validate a TOML file of ours (the rule file, a roster) as `model`; `error` names each bad row
    and field, or says the text is not TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{origin}: not valid TOML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"  {_row_label(data, err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors(include_url=False)
        ]
        raise error(f"{origin}: {len(lines)} problem(s):\n" + "\n".join(lines)) from None


def load_rules(path: Path | None = None) -> RuleSet:
    """Load a rule file (the default rule set when `path` is None)."""
    source = path or DEFAULT_RULES_FILE
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleFileError(f"{source}: cannot read the rule file ({exc.strerror})") from None
    return parse_rules(text, origin=str(source))
