"""Process-wide tuning of the long-running workers."""

from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 50_000
"""Allocations between two young-generation collections (CPython's default, 700, ran one every few
events: a tenth of the rules worker's time with 10,000 live states, `make bench` worker path)."""


def quieter_garbage_collection() -> None:
    """What start-up allocated (modules, the rule set, Faust) is never collected again, and young
    collections run less often; reference counting still frees almost everything at once."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)
