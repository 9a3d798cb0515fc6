"""Per-session memory of values derived from a few fields (the care schedule's sets, the check-ins):
asked for at every event and tick, rebuilt only when their key changes. Memory only, never stored."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from models.ruleset import RuleSet
from models.state import SessionState, memory_of

T = TypeVar("T")


class Memo:
    """Name -> (key, rule set, value)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[str, tuple[Hashable, RuleSet, Any]] = {}

    def __eq__(self, other: object) -> bool:
        """Derived from the state's own fields: it never makes two states differ."""
        return other is None or isinstance(other, Memo)

    __hash__ = None  # type: ignore[assignment]


def remembered(session: SessionState, name: str, key: Hashable, rules: RuleSet, build: Callable[[], T]) -> T:
    """`build()`, or what it gave for the same `key` and rule set last time."""
    memo: Memo | None = memory_of(session)["_memo"]
    if memo is None:
        memo = memory_of(session)["_memo"] = Memo()
    hit = memo.values.get(name)
    if hit is not None and hit[1] is rules and hit[0] == key:
        value: T = hit[2]
        return value
    value = build()
    memo.values[name] = (key, rules, value)
    return value
