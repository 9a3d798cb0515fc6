"""The host names the console answers to (Host and Origin), against DNS rebinding (pure)."""

from __future__ import annotations

import pytest

from streams.apps.console.hosts import HostCheck, HostsError, parse_authority


def test_authorities_are_parsed_strictly() -> None:
    assert parse_authority("LocalHost:8080") == ("localhost", 8080)
    assert parse_authority("[::1]:8080") == ("[::1]", 8080)
    assert parse_authority("console.example.org") == ("console.example.org", None)
    for bad in ("", ":8080", "a b", "host:0", "host:65536", "host:80:80", "[::1", "host/x", "ho\nst"):
        assert parse_authority(bad) is None, bad


def test_by_default_only_loopback_names_and_the_bind_host_on_the_consoles_port() -> None:
    check = HostCheck.build(None, "127.0.0.1")
    for host in ("localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST:8080"):
        assert check.allows_host(host, 8080), host
    for refused in ("localhost:9999", "localhost", "evil.example:8080", "evil.example", None, "::1:8080"):
        assert not check.allows_host(refused, 8080), refused
    assert HostCheck.build(None, "10.1.2.3").allows_host("10.1.2.3:8080", 8080)
    assert HostCheck.build(None, "fe80::5").allows_host("[fe80::5]:8080", 8080)


def test_configured_names_with_and_without_a_port() -> None:
    check = HostCheck.build("console.example.org, ward-pc:9443", "127.0.0.1")
    assert check.allows_host("console.example.org", 8080)  # a reverse proxy on 443 forwards no port
    assert check.allows_host("console.example.org:8080", 8080)  # straight to the console's port
    assert not check.allows_host("console.example.org:9000", 8080)
    assert check.allows_host("ward-pc:9443", 8080)
    assert not check.allows_host("ward-pc:8080", 8080) and not check.allows_host("ward-pc", 8080)
    assert check.allows_host("localhost:8080", 8080)  # loopback stays
    with pytest.raises(HostsError, match="entry 2"):
        HostCheck.build("ok.example,bad name", "127.0.0.1")


def test_an_origin_must_name_one_of_the_consoles_names_not_whatever_host_was_sent() -> None:
    check = HostCheck.build("console.example.org", "127.0.0.1")
    assert check.allows_origin("http://127.0.0.1:8080", 8080)
    assert check.allows_origin("https://console.example.org", 8080)
    for origin in (
        "http://evil.example:8080",  # a rebinding page: its Origin and Host both say evil.example
        "null",
        "http://127.0.0.1:9999",
        "http://localhost",
        "ftp://console.example.org",
        "https://console.example.org.evil.example",
    ):
        assert not check.allows_origin(origin, 8080), origin
