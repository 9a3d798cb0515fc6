"""`ivigwatch gateway issue|list|revoke`: a token printed once, a list without secrets, revocation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.apps.cli.main import app
from streams.infra.credential_store import CredentialStore, credential_path
from streams.infra.settings import get_settings

runner = CliRunner()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("IVIGWATCH_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_issue_list_and_revoke(state_dir: Path) -> None:
    issued = runner.invoke(
        app, ["gateway", "issue", "--patient", "pt-9", "--kind", "device", "--label", "cuff"]
    )
    assert issued.exit_code == 0, issued.stderr
    token = issued.stdout.strip()
    store = CredentialStore(credential_path(state_dir))
    credential = store.check(token)
    assert credential is not None and (credential.patient_id, credential.kind.value) == ("pt-9", "device")
    listed = runner.invoke(app, ["gateway", "list"])
    secret = token.split("_", 2)[2]  # ivg_<id>_<secret>: the secret itself may hold "_"
    assert credential.credential_id in listed.stdout and secret not in listed.stdout
    assert runner.invoke(app, ["gateway", "revoke", credential.credential_id]).exit_code == 0
    assert store.check(token) is None
    missing = runner.invoke(app, ["gateway", "revoke", "ffffffffffff"])
    assert missing.exit_code == 1 and "no credential" in missing.stderr
    bad = runner.invoke(app, ["gateway", "issue", "--patient", "pt 9!", "--kind", "app"])
    assert bad.exit_code == 2 and "cannot issue" in bad.stderr
