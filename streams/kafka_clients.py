"""The one place Kafka clients are configured: bootstrap servers plus the connection's security.

Every aiokafka client (producers, consumers, the admin client) is built from `connection_options`,
and every Faust app gets `faust_credentials`, so turning authentication or TLS on in the settings
reaches each of them.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.settings import Settings


def connection_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments every aiokafka client needs to reach and log in to the broker."""
    return {"bootstrap_servers": settings.bootstrap}


def faust_credentials(settings: Settings) -> Any | None:
    """Faust's `broker_credentials` for these settings (None: plain text, no login)."""
    return None


def producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**connection_options(settings), **options)


def consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **connection_options(settings), **options)


def admin(settings: Settings, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection_options(settings), **options)
