"""Credentials on disk: a token shown once, only its hash kept, revocation seen by a running gateway."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.credentials import CredentialKind
from streams.infra.credential_store import CredentialFileError, CredentialStore

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_a_token_checks_only_while_live_and_the_file_keeps_no_secret(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "gateway" / "credentials.json")
    credential, token = store.issue("pt-1", CredentialKind.APP, "phone", NOW)
    assert store.check(token) == credential
    secret = token.split("_", 2)[2]  # ivg_<id>_<secret>: the secret itself may hold "_"
    assert len(secret) == 43 and secret not in store.path.read_text()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert store.check(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.check("Bearer nonsense") is None
    gateway = CredentialStore(store.path)  # another process: the running gateway
    assert gateway.check(token) is not None
    revoked = store.revoke(credential.credential_id, NOW)
    assert revoked is not None and revoked.revoked_at == NOW
    assert gateway.check(token) is None, "the gateway did not see the revocation"
    assert store.revoke("ffffffffffff", NOW) is None


def test_a_file_that_is_not_ours_is_a_clear_error_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text('{"secret": "pt-1 value"}')
    with pytest.raises(CredentialFileError) as caught:
        CredentialStore(path).load()
    assert "pt-1" not in str(caught.value)


def test_many_credentials_are_issued_in_one_write_and_each_checks(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    now = datetime(2026, 12, 7, tzinfo=UTC)
    issued = store.issue_many([(f"pt-{n}", CredentialKind.DEVICE, "bench") for n in range(50)], now)
    assert len({c.credential_id for c, _ in issued}) == 50
    for credential, token in issued[::7]:
        checked = store.check(token)
        assert checked is not None and checked.patient_id == credential.patient_id
