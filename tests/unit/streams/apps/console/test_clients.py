"""Who a request comes from: the remote address, or what a trusted reverse proxy forwarded (pure)."""

from __future__ import annotations

import pytest

from streams.apps.console.clients import Clients, TrustedProxiesError


def test_without_trusted_proxies_the_remote_address_is_the_client_whatever_it_forwards() -> None:
    clients = Clients.build(None)
    assert clients.of("10.0.0.9", ["1.2.3.4"]) == "10.0.0.9"
    assert clients.of("::ffff:10.0.0.9", []) == "10.0.0.9"
    assert clients.of(None, []) == "unknown"


def test_behind_a_trusted_proxy_each_client_counts_on_its_own() -> None:
    clients = Clients.build("127.0.0.1, 10.0.0.2")
    assert clients.of("127.0.0.1", ["198.51.100.7"]) == "198.51.100.7"
    assert clients.of("127.0.0.1", ["198.51.100.8"]) == "198.51.100.8"
    # what the client wrote itself (left) is never used: the right-most untrusted hop is
    assert clients.of("127.0.0.1", ["203.0.113.1, 198.51.100.7"]) == "198.51.100.7"
    assert clients.of("127.0.0.1", ["203.0.113.1", "198.51.100.7, 10.0.0.2"]) == "198.51.100.7"
    assert clients.of("127.0.0.1", []) == "127.0.0.1"  # nothing forwarded: the proxy itself
    assert clients.of("10.0.0.9", ["198.51.100.7"]) == "10.0.0.9"  # not a trusted proxy


def test_a_bad_trusted_proxy_entry_is_named_by_position() -> None:
    with pytest.raises(TrustedProxiesError, match="entry 2"):
        Clients.build("127.0.0.1,proxy.example")
