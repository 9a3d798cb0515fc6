"""The one-line errors every command gives when a server it needs does not answer."""

from __future__ import annotations


def kafka_unreachable(bootstrap: str) -> str:
    return (
        f"cannot reach Kafka at {bootstrap}: start the local stack with "
        "`ivigwatch stack up`, or set IVIGWATCH_KAFKA_BOOTSTRAP"
    )


def influx_unreachable(exc: Exception) -> str:
    """`exc` is an InfluxUnavailable: its text names the URL, never a value."""
    return f"{exc}: start the local stack with `ivigwatch stack up`, or set IVIGWATCH_INFLUX_URL"
