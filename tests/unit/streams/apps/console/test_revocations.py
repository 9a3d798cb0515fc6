"""Ended console sessions on disk: owner-only, replaced atomically, pruned, merged, refused when foreign."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from streams.apps.console.revocations import RevocationFileError, RevocationStore, revocation_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_saved_revocations_load_again_owner_only_and_pruned(tmp_path: Path) -> None:
    path = revocation_path(tmp_path)
    assert path == tmp_path / "console" / "revoked-sessions.json"
    store = RevocationStore(path)
    assert store.load(now=100.0) == {}  # no file yet
    store.save({"nonce-a": 200.0, "nonce-b": 150.0, "gone": 90.0}, now=100.0)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert json.loads(path.read_text())["revoked"] == {"nonce-a": 200.0, "nonce-b": 150.0}
    assert store.load(now=160.0) == {"nonce-a": 200.0}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]  # no temp


def test_a_save_keeps_what_another_console_process_saved(tmp_path: Path) -> None:
    path = revocation_path(tmp_path)
    RevocationStore(path).save({"from-other": 500.0}, now=100.0)
    merged = RevocationStore(path).save({"mine": 400.0}, now=100.0)
    assert merged == {"from-other": 500.0, "mine": 400.0}
    assert RevocationStore(path).load(now=100.0) == merged


def test_an_existing_world_readable_directory_is_narrowed(tmp_path: Path) -> None:
    path = revocation_path(tmp_path)
    path.parent.mkdir(mode=0o755)
    path.parent.chmod(0o755)
    RevocationStore(path).save({"n": 200.0}, now=100.0)
    assert mode(path.parent) == 0o700 and mode(path) == 0o600


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"revoked": []}',
        '{"revoked": {"has space": 5}}',
        '{"revoked": {"n": "soon"}}',
        '{"revoked": {"n": Infinity}}',
    ],
)
def test_a_foreign_or_broken_file_is_refused_without_quoting_it(tmp_path: Path, text: str) -> None:
    path = revocation_path(tmp_path)
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(RevocationFileError) as caught:
        RevocationStore(path).load(now=0.0)
    assert text not in str(caught.value)
    assert RevocationStore(path).save({"n": 10.0}, now=0.0) == {"n": 10.0}  # a save replaces it


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = revocation_path(tmp_path)
    store = RevocationStore(path)
    store.save({"old": 500.0}, now=100.0)

    def broken(self: Path, target: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        store.save({"new": 500.0}, now=100.0)
    monkeypatch.undo()
    assert store.load(now=100.0) == {"old": 500.0}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]
