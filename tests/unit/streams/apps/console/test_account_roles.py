"""Local accounts with a role (`name:hash:role`; `name:hash` is a nurse) and sessions carrying a role."""

from __future__ import annotations

import pytest

from streams.apps.console.auth import (
    AccountsError,
    Authenticator,
    hash_password,
    parse_accounts,
    parse_local_accounts,
    parse_roles,
)

H1, H2, H3 = hash_password("pw-one-1"), hash_password("pw-two-2"), hash_password("pw-three-3")


def test_an_entry_without_a_role_is_a_nurse_and_roles_are_read() -> None:
    text = f"rn-ana:{H1}, cn-bo:{H2}:charge_nurse ,an-cy:{H3}:analyst"
    assert parse_local_accounts(text) == {
        "rn-ana": (H1, "nurse"),
        "cn-bo": (H2, "charge_nurse"),
        "an-cy": (H3, "analyst"),
    }
    assert parse_accounts(text) == {"rn-ana": H1, "cn-bo": H2, "an-cy": H3}
    assert parse_roles(text) == {"rn-ana": "nurse", "cn-bo": "charge_nurse", "an-cy": "analyst"}


def test_an_unknown_role_names_the_entry_and_never_the_hash() -> None:
    with pytest.raises(AccountsError, match=r"entry 2 \(ad-di\): unknown role 'root'") as caught:
        parse_accounts(f"rn-ana:{H1},ad-di:{H2}:root")
    assert H2.split("$")[4] not in str(caught.value)
    with pytest.raises(AccountsError, match=r"entry 1 \(ad-di\): unknown role ''"):
        parse_accounts(f"ad-di:{H2}:")


def test_a_local_session_takes_its_role_from_the_accounts_and_an_sso_one_from_its_signed_payload() -> None:
    auth = Authenticator({"rn-ana": H1, "an-cy": H3}, b"k" * 32, roles={"an-cy": "analyst"})
    local = auth.session(auth.issue("an-cy"))
    assert local is not None and (local.role, local.sso) == ("analyst", False)
    nurse = auth.session(auth.issue("rn-ana"))
    assert nurse is not None and nurse.role == "nurse"

    sso_token = auth.issue("dr.who@ward", sso_role="admin")
    assert auth.session(sso_token) is None, "single sign-on sessions need single sign-on configured"
    auth.sso = True
    sso = auth.session(sso_token)
    assert sso is not None and (sso.user, sso.role, sso.sso) == ("dr.who@ward", "admin", True)
    payload, _, mac = sso_token.rpartition(".")
    assert auth.session(payload.replace("|admin", "|nurse") + "." + mac) is None
    assert auth.session(payload.rsplit("|", 1)[0] + "." + mac) is None  # role stripped: MAC fails
    forged = auth.issue("dr.who@ward", sso_role="admin").replace("|admin", "|root")
    assert auth.session(forged) is None
