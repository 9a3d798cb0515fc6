"""Serve an aiohttp application's runner on a TCP site and name its base URL (console, gateway)."""

from __future__ import annotations

from aiohttp import web


async def start_site(runner: web.AppRunner, host: str, port: int) -> str:
    """Start a site of a set-up runner on host:port (0: any free port); its base URL (http://host:port)."""
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    if ":" in bound_host:
        bound_host = f"[{bound_host}]"  # IPv6
    return f"http://{bound_host}:{bound_port}"
