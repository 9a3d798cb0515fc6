"""The one permission table: which role may take which action."""

from __future__ import annotations

import pytest

from streams.apps.console.roles import ACTIONS, ROLES, allowed_actions, can, parse_role, strongest


def test_the_permission_table() -> None:
    table = {role: set(allowed_actions(role)) for role in ROLES}
    assert table == {
        "nurse": {"ack", "resolve", "note", "handover"},
        "charge_nurse": {"ack", "resolve", "note", "handover", "limit", "snooze"},
        "analyst": set(),
        "admin": set(ACTIONS),
    }
    assert set(ACTIONS) == {"ack", "resolve", "note", "handover", "limit", "snooze", "audit_query"}
    assert [role for role in ROLES if can(role, "audit_query")] == ["admin"]


def test_unknown_roles_and_actions_may_do_nothing() -> None:
    assert not can("superuser", "ack")
    assert not can("admin", "delete_everything")
    assert not can("", "")
    assert allowed_actions("nobody") == []


def test_roles_parse_by_name_and_the_strongest_wins() -> None:
    assert parse_role("charge_nurse") == "charge_nurse"
    with pytest.raises(ValueError, match="nurse, charge_nurse, analyst, admin"):
        parse_role("Nurse")
    assert strongest({"analyst", "nurse"}) == "nurse"
    assert strongest({"charge_nurse", "admin"}) == "admin"
    assert strongest(set()) is None
