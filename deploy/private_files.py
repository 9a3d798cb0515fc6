"""Owner-only file rights for the local stack's state dir: dirs 0700, files without group/other bits.

The servers and workers are started with `processes.OWNER_ONLY_UMASK`, so what they create is private
from the start; `make_private` repairs a state dir made before that (or by a worker started by hand).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from deploy.processes import ServerError


def _shared(root: Path) -> bool:
    """True for a dir that is not the stack's own: `/`, the home dir, or a sticky one like /tmp."""
    try:
        home: Path | None = Path.home().resolve()
    except RuntimeError:  # no home dir known
        home = None
    return root in (Path("/"), home) or bool(root.stat().st_mode & stat.S_ISVTX)


def _tighten(path: Path, *, is_dir: bool) -> bool:
    """Drop the group/other bits of one entry (dirs get 0700); True when its mode changed."""
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:  # a server removed it meanwhile (a compacted segment)
        return False
    wanted = 0o700 if is_dir else mode & 0o700
    if mode == wanted:
        return False
    try:
        path.chmod(wanted)
    except FileNotFoundError:
        return False
    except PermissionError:
        raise ServerError(f"cannot make {path} private (owned by another user?): fix its owner") from None
    return True


def make_private(state_dir: Path) -> int:
    """Make `state_dir` and everything under it owner-only (symlinks are not followed); the number of
    entries changed. Refuses a shared dir (IVIGWATCH_STATE_DIR must be a dir of its own)."""
    root = state_dir.resolve()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _shared(root):
        raise ServerError(
            f"IVIGWATCH_STATE_DIR={root} is a shared directory: the local stack needs a dir of its own "
            "(it is made readable by its owner only)"
        )
    changed = int(_tighten(root, is_dir=True))
    for folder, dirs, files in os.walk(root):  # does not follow symlinked dirs
        base = Path(folder)
        for name in dirs:
            path = base / name
            if not path.is_symlink():
                changed += _tighten(path, is_dir=True)
        for name in files:
            path = base / name
            if not path.is_symlink():
                changed += _tighten(path, is_dir=False)
    return changed
