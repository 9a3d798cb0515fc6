"""Who may read /metrics: with a scrape token set (IVIGWATCH_METRICS_TOKEN), only a request with
`Authorization: Bearer <token>` (compared in constant time); without one, only a loopback client
that came through no proxy. And the exposition itself (prometheus_client's text format)."""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic import SecretStr

CHALLENGE = 'Bearer realm="ivigwatch-metrics"'
FORWARDED_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:  # a Unix socket, or no address
        return False


def scrape_allowed(
    token: SecretStr | None, authorization: str | None, remote: str | None, forwarded: bool
) -> bool:
    """Whether a /metrics request may be answered (see the module docstring). `forwarded`: the request
    names a client behind a proxy (a reverse proxy on the same host is a loopback peer too)."""
    if token is not None:
        scheme, _, given = (authorization or "").partition(" ")
        expected = token.get_secret_value().encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)
    return is_loopback(remote) and not forwarded


def exposition(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
