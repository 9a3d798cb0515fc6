"""The foreground commands' stop: Ctrl-C or SIGTERM sets an event the command waits on."""

from __future__ import annotations

import asyncio
import contextlib
import signal


def stop_on_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running event loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no signal handlers on this platform
            loop.add_signal_handler(sig, stop.set)
    return stop
