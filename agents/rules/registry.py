"""Rule kinds, each registered by its own module at import: the engine and `rules show` read them."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final

from agents.rules.context import RuleContext
from agents.rules.lifecycle import Finding
from models.alerts import Condition
from models.rule_common import ALL_PHASES, Phase
from models.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class RuleLine:
    """One row of the rule set as a care team reads it."""

    id: str
    condition: str
    trigger: str
    severity: str
    when: str
    source: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a composite rule found at one evaluation time.

    `resolution`, per condition: False, the trigger is false at `ts` (the open alert's resolution
    clock may start: `mark_cleared`); True, it still holds (the open alert's clock is stopped).
    A condition it does not name gets no signal.

    `new_episode`, per condition: the open alert belongs to an earlier episode, whose evidence was
    last seen at the time given; it is resolved (as of then) before the findings are applied, so
    that the finding opens a new alert instead of updating an acknowledged one."""

    findings: Sequence[Finding] = ()
    resolution: Mapping[Condition, bool] = field(default_factory=dict)
    new_episode: Mapping[Condition, datetime] = field(default_factory=dict)


NOTHING: Final = Evaluation((), MappingProxyType({}), MappingProxyType({}))
"""No finding and no signal: what most composites return at most evaluation times (built once)."""


Evaluate = Callable[[RuleContext], Evaluation]
Show = Callable[[RuleSet], list[RuleLine]]


@dataclass(frozen=True, slots=True)
class RuleKind:
    """A registered rule kind; `name` is its section of the rule file.

    `show_order` places its lines in `rules show`; a composite (`evaluate` set) is evaluated by the
    engine at every evaluation time, its findings applied in `evaluate_order` (earlier: its alert
    messages come first). Threshold rows, timers and high-risk checks are evaluated where they are
    (per reading, per clock tick, per session event) and register only their lines."""

    name: str
    show_order: int
    show: Show
    evaluate: Evaluate | None = None
    evaluate_order: int | None = None


class _Registry:
    __slots__ = ("composites", "discovered", "kinds", "ordered")

    def __init__(self) -> None:
        self.kinds: dict[str, RuleKind] = {}
        self.discovered = False
        self.ordered: tuple[RuleKind, ...] | None = None
        self.composites: tuple[Evaluate, ...] | None = None


_REGISTRY = _Registry()


def register(
    name: str,
    *,
    show_order: int,
    show: Show,
    evaluate: Evaluate | None = None,
    evaluate_order: int | None = None,
) -> RuleKind:
    """Add a rule kind (once per name; every order number once) and return it.

    Called at import by the module of `agents.rules` that holds the kind: a new composite rule is
    that one module (plus its rows in the rule file and their model in `models/`), since `kinds()`
    imports every module of the package and neither the engine nor the CLI names one."""
    if (evaluate is None) != (evaluate_order is None):
        raise ValueError(f"rule kind {name!r}: give both evaluate and evaluate_order, or neither")
    kinds = _REGISTRY.kinds
    if name in kinds:
        raise ValueError(f"rule kind {name!r} is already registered")
    for other in kinds.values():
        if other.show_order == show_order:
            raise ValueError(f"rule kinds {other.name!r} and {name!r} share show_order {show_order}")
        if evaluate_order is not None and other.evaluate_order == evaluate_order:
            raise ValueError(f"rule kinds {other.name!r} and {name!r} share evaluate_order {evaluate_order}")
    kind = RuleKind(name, show_order, show, evaluate, evaluate_order)
    kinds[name] = kind
    _REGISTRY.ordered = _REGISTRY.composites = None
    return kind


def unregister(name: str) -> RuleKind:
    """Remove a rule kind (for a test that registered a throwaway one)."""
    kind = _REGISTRY.kinds.pop(name)
    _REGISTRY.ordered = _REGISTRY.composites = None
    return kind


def _discover() -> None:
    """Import every module of `agents.rules` once: each rule module registers itself at import."""
    if _REGISTRY.discovered:
        return
    _REGISTRY.discovered = True
    package = importlib.import_module(__name__.rpartition(".")[0])
    for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)


def kinds() -> tuple[RuleKind, ...]:
    """Every registered rule kind, in `rules show` order."""
    ordered = _REGISTRY.ordered
    if ordered is None:
        _discover()
        ordered = _REGISTRY.ordered = tuple(sorted(_REGISTRY.kinds.values(), key=lambda k: k.show_order))
    return ordered


def composites() -> tuple[Evaluate, ...]:
    """The evaluators of the composite rules, in `evaluate_order` (cached: on every event's path)."""
    evaluators = _REGISTRY.composites
    if evaluators is None:
        ranked = [
            (k.evaluate_order, k.evaluate)
            for k in kinds()
            if k.evaluate is not None and k.evaluate_order is not None
        ]
        ranked.sort(key=lambda pair: pair[0])
        evaluators = _REGISTRY.composites = tuple(evaluate for _, evaluate in ranked)
    return evaluators


def rule_lines(rules: RuleSet) -> list[RuleLine]:
    """Every row of the rule set, kind by kind in `show_order` (the order of the file's sections)."""
    return [line for kind in kinds() for line in kind.show(rules)]


def when_text(phases: Iterable[Phase]) -> str:
    """`any` for every phase, else the phases by name."""
    phases = tuple(phases)
    return "any" if phases == ALL_PHASES else ", ".join(p.value for p in phases)


def names_text(values: Iterable[str]) -> str:
    return ", ".join(sorted(values))
