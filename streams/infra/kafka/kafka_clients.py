"""The one place Kafka clients are configured: bootstrap servers plus the connection's security.

Every aiokafka client (producers, consumers, the admin client) is built from `connection_options`,
and every Faust app gets `faust_credentials`, so turning authentication or TLS on in the settings
reaches each of them. The login itself comes from `Settings.kafka_login()`.
"""

from __future__ import annotations

import ssl
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.infra.settings import KafkaLogin, Settings


def ssl_context(login: KafkaLogin) -> ssl.SSLContext:
    """A TLS client context that checks the broker's certificate (against `ca_file` when given) and
    its host name."""
    context = ssl.create_default_context(cafile=str(login.ca_file) if login.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connection_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments every aiokafka client needs to reach and log in to the broker."""
    login = settings.kafka_login()
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap,
        "security_protocol": login.security_protocol,
    }
    if login.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(login)
    if login.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = login.sasl_mechanism
        options["sasl_plain_username"] = login.username
        options["sasl_plain_password"] = login.password.get_secret_value() if login.password else None
    return options


def faust_credentials(settings: Settings) -> Any | None:
    """Faust's `broker_credentials` for these settings (None: plain text, no login)."""
    login = settings.kafka_login()
    tls = login.security_protocol in ("SSL", "SASL_SSL")
    if login.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=login.username,
            password=login.password.get_secret_value() if login.password else None,
            ssl_context=ssl_context(login) if tls else None,
            mechanism=login.sasl_mechanism,
        )
    if tls:
        return faust.SSLCredentials(ssl_context(login))
    return None


def producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**connection_options(settings), **options)


def consumer(settings: Settings, *topics: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **connection_options(settings), **options)


def admin(settings: Settings, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection_options(settings), **options)
