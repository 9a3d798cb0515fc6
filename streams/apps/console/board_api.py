"""The caseload board's routes: the page's JSON (/api/board) and its stream (/api/board/stream)."""

from __future__ import annotations

from aiohttp import web

from streams.apps.console import audit_log
from streams.apps.console.api import sse_stream
from streams.apps.console.board import Board

BOARD_KEY = web.AppKey("board", Board)


async def api_board(request: web.Request) -> web.Response:
    """The board now: {"now", "rows": [BoardRow...]} in its order (streams/apps/console/caseload.py)."""
    board = request.app[BOARD_KEY].snapshot()
    await audit_log.viewed(request, audit_log.patients_shown(board), "caseload board")
    return web.json_response(board)


async def api_board_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `snapshot` (the board) on connect, then `board` (the whole board) on each
    change; `end` when the session ends, as /api/stream."""
    board = request.app[BOARD_KEY]
    return await sse_stream(request, board.subscribe, board.unsubscribe, "board", "caseload board")
