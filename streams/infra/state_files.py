"""Small private state files (mode 0600 in a 0700 directory), locked and replaced atomically."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive lock on `lock_path` (created 0600) for the block: one writer at a time."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: a 0600 temporary file, fsync, rename, fsync the directory."""
    directory = path.parent
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}-", suffix=".tmp")  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def private_directory(directory: Path) -> None:
    """Create `directory` (and its parents) if needed, and make it 0700."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
