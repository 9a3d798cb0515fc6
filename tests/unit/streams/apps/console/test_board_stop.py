"""The board stops when told, also in the instant it is told of a change: its wait for changes is
an `asyncio.timeout`, not `asyncio.wait_for`, which on Python 3.11 returns the finished wait instead
of the cancellation when both come together (the console then never exited on SIGTERM: CI of
2026-12-08, twice)."""

from __future__ import annotations

import asyncio

from agents.rules.loader import load_rules
from streams.apps.console.board import Board
from streams.apps.console.feed import Hub


async def test_a_board_told_of_a_change_as_it_is_stopped_stops() -> None:
    board = Board(load_rules(), Hub())
    await board.start()
    await asyncio.sleep(0)  # its push loop now waits for a change
    board.dirty.set()  # a change (the event history read) ...
    stopping = asyncio.create_task(board.stop())  # ... and SIGTERM in the same instant
    done, _ = await asyncio.wait({stopping}, timeout=5)  # no second cancellation to rescue it
    assert board.task is not None
    if not done:
        stopping.cancel()
        board.task.cancel()
    assert done, "the board kept running after it was stopped"
    assert board.task.cancelled()
