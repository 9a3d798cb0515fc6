"""Console roles and the one permission table: which role may take which action (pure).

A nurse acts on alerts; a charge nurse also sets patient limits and approves snoozes; an analyst reads
(alerts, sessions, charts) and takes no action; an admin may do everything, and only an admin may query
the audit log. Every console handler that acts asks `can(role, action)`.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["nurse", "charge_nurse", "analyst", "admin"]
Action = Literal["ack", "resolve", "note", "handover", "limit", "snooze", "audit_query"]

ROLES: tuple[Role, ...] = get_args(Role)
ACTIONS: tuple[Action, ...] = get_args(Action)
DEFAULT_ROLE: Role = "nurse"
"""The role of a local account listed without one (accounts from before roles existed)."""

_NURSING: frozenset[Action] = frozenset({"ack", "resolve", "note", "handover"})
PERMISSIONS: dict[Role, frozenset[Action]] = {
    "nurse": _NURSING,
    "charge_nurse": _NURSING | {"limit", "snooze"},
    "analyst": frozenset(),
    "admin": frozenset(ACTIONS),
}
"""The permission table: what each role may do (anything not listed is refused)."""

_BY_NAME: dict[str, frozenset[str]] = {role: frozenset(actions) for role, actions in PERMISSIONS.items()}

PRECEDENCE: tuple[Role, ...] = ("admin", "charge_nurse", "nurse", "analyst")
"""When a single sign-on user's groups map to several roles, the first of these wins."""


def can(role: str, action: str) -> bool:
    """Whether `role` may take `action`; False for an unknown role or action."""
    return action in _BY_NAME.get(role, frozenset())


def allowed_actions(role: str) -> list[Action]:
    """The actions `role` may take, in the table's order (the page shows only their buttons)."""
    return [action for action in ACTIONS if can(role, action)]


def parse_role(text: str) -> Role:
    """A role's name as a Role; ValueError (naming the valid ones) otherwise."""
    for role in ROLES:
        if text == role:
            return role
    raise ValueError(f"unknown role {text!r}: use one of {', '.join(ROLES)}")


def strongest(roles: set[Role]) -> Role | None:
    """The most privileged of `roles` (PRECEDENCE), or None for none."""
    return next((role for role in PRECEDENCE if role in roles), None)
