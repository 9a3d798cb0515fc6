"""Who a request comes from (for the login throttle and its log lines): the remote address, or, when that
is a trusted reverse proxy (IVIGWATCH_CONSOLE_TRUSTED_PROXIES), the address it appended to
X-Forwarded-For. Entries left of the trusted proxies' own are the client's to write and are never used.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import web

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxiesError(ValueError):
    """IVIGWATCH_CONSOLE_TRUSTED_PROXIES holds an entry that is not an IP address."""


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class Clients:
    """The trusted proxies' addresses."""

    trusted: frozenset[Address] = frozenset()

    @classmethod
    def build(cls, text: str | None) -> Clients:
        """From IVIGWATCH_CONSOLE_TRUSTED_PROXIES (comma-separated IP addresses)."""
        trusted = set()
        for number, entry in enumerate((text or "").split(","), start=1):
            if not entry.strip():
                continue
            address = _address(entry)
            if address is None:
                raise TrustedProxiesError(
                    f"IVIGWATCH_CONSOLE_TRUSTED_PROXIES entry {number}: not an IP address"
                )
            trusted.add(address)
        return cls(frozenset(trusted))

    def of(self, remote: str | None, forwarded_for: list[str]) -> str:
        """The client: `remote`, or the right-most X-Forwarded-For hop that is not a trusted proxy."""
        peer = _address(remote or "")
        if peer is None:
            return remote or "unknown"
        if peer not in self.trusted:
            return str(peer)
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return hop[:64] or str(peer)  # the proxy wrote something odd: count it as given
            if address not in self.trusted:
                return str(address)
        return str(peer)


CLIENTS_KEY = web.AppKey("clients", Clients)


def client_of(request: web.Request) -> str:
    """Who a failed login is counted against and logged as."""
    return request.app[CLIENTS_KEY].of(request.remote, request.headers.getall("X-Forwarded-For", []))
