"""The host names the console answers to: a request's Host header and a browser's Origin must name one.

Checked before anything else (421 otherwise), so a page that points its own DNS name at the console's
address (DNS rebinding) reaches nothing. Accepted: localhost, 127.0.0.1, [::1] and the bind host on the
port the request came in on (no page on another site can make a browser send those names), and the
names of IVIGWATCH_CONSOLE_HOSTS: `name` (on that port, or with no port as a reverse proxy on 80/443
forwards it) or `name:port` (exactly).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import hdrs, web

LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AUTHORITY = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")


class HostsError(ValueError):
    """IVIGWATCH_CONSOLE_HOSTS holds an entry that is not `name` or `name:port`."""


def parse_authority(text: str) -> tuple[str, int | None] | None:
    """`name` or `name:port` (an IPv6 address in brackets) as (lower-case name, port or None)."""
    match = AUTHORITY.fullmatch(text.strip().lower())
    if match is None:
        return None
    port = match["port"]
    if port is not None and not 0 < int(port) < 65536:
        return None
    return match["name"], None if port is None else int(port)


def _bracketed(host: str) -> str:
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True)
class HostCheck:
    """The accepted names: local ones (on the console's own port) and configured ones."""

    local_names: frozenset[str]
    configured: frozenset[tuple[str, int | None]]

    @classmethod
    def build(cls, hosts: str | None, bind_host: str) -> HostCheck:
        """From IVIGWATCH_CONSOLE_HOSTS (comma-separated) and the interface the console binds to."""
        configured: set[tuple[str, int | None]] = set()
        for number, entry in enumerate((hosts or "").split(","), start=1):
            if not entry.strip():
                continue
            parsed = parse_authority(entry)
            if parsed is None:
                raise HostsError(f"IVIGWATCH_CONSOLE_HOSTS entry {number}: expected a host name or name:port")
            configured.add(parsed)
        local = {*LOCAL_NAMES, _bracketed(bind_host)} if bind_host.strip() else set(LOCAL_NAMES)
        return cls(frozenset(local), frozenset(configured))

    def allows(self, name: str, port: int | None, local_port: int | None) -> bool:
        """Whether `name[:port]`, sent to the console's `local_port`, is one of this console's names."""
        if (name, port) in self.configured:
            return True
        if port is None or port != local_port:
            return False
        return name in self.local_names or (name, None) in self.configured

    def allows_host(self, host: str | None, local_port: int | None) -> bool:
        parsed = None if host is None else parse_authority(host)
        return parsed is not None and self.allows(*parsed, local_port)

    def allows_origin(self, origin: str, local_port: int | None) -> bool:
        """An Origin header (`scheme://name[:port]`) of a page served under one of these names."""
        scheme, separator, authority = origin.partition("://")
        if scheme.lower() not in {"http", "https"} or not separator:
            return False
        parsed = parse_authority(authority)
        return parsed is not None and self.allows(*parsed, local_port)


HOSTS_KEY = web.AppKey("hosts", HostCheck)


def local_port(request: web.Request) -> int | None:
    """The port this request's connection came in on."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def origin_allowed(request: web.Request) -> bool:
    """No Origin (not a browser's cross-site request), or the Origin of one of the console's names."""
    origin = request.headers.get(hdrs.ORIGIN)
    return origin is None or request.app[HOSTS_KEY].allows_origin(origin, local_port(request))


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (421) a request whose Host header names none of the console's names, before anything else."""
    if not request.app[HOSTS_KEY].allows_host(request.headers.get(hdrs.HOST), local_port(request)):
        return web.Response(status=421, text="misdirected request: this console does not answer to that name")
    return await handler(request)
