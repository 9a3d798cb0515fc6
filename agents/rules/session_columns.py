"""A session's stored columns (models/reading_columns.py `ColumnsCache`) told of changes to its
readings before their end, so that a checkpoint encodes only what was added or changed."""

from __future__ import annotations

from collections.abc import Callable

from models.reading_columns import ColumnsCache
from models.state import SessionState, memory_of


def stored_columns(session: SessionState, change: Callable[[ColumnsCache], None]) -> None:
    """Apply `change` to the session's stored columns, if it keeps them."""
    cache: ColumnsCache | None = memory_of(session)["_columns"]
    if cache is not None:
        change(cache)
