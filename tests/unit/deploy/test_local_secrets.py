"""The secured local stack's generated logins and certificates (openssl), and how Settings reads them."""

from __future__ import annotations

import ssl
import stat
import subprocess
from pathlib import Path

import pytest

from deploy import local_kafka, local_secrets
from streams.infra.kafka import kafka_clients
from streams.infra.settings import LocalSecretsMissing, Settings


def _local(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(state_dir=tmp_path, kafka_bootstrap=None, influx_url=None, **overrides)  # type: ignore[arg-type]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_logins_are_generated_once_and_private(tmp_path: Path) -> None:
    settings = _local(tmp_path)
    paths = local_secrets.ensure_logins(settings)
    first = paths.logins.read_text()
    assert local_secrets.ensure_logins(settings).logins.read_text() == first  # kept across restarts
    assert _mode(paths.root) == 0o700
    assert _mode(paths.logins) == 0o600
    logins = local_secrets.read_logins(settings)
    passwords = [
        logins["kafka"]["client"]["password"],
        logins["kafka"]["broker"]["password"],
        *(user["password"] for user in logins["influx"].values()),
    ]
    assert len(set(passwords)) == len(passwords)
    assert all(len(p) >= 32 for p in passwords)
    assert local_secrets.ensure_logins(_local(tmp_path / "other")).logins.read_text() != first


def test_settings_use_the_generated_logins_of_the_local_stack(tmp_path: Path) -> None:
    settings = _local(tmp_path)
    with pytest.raises(LocalSecretsMissing, match="ivigwatch stack up"):
        settings.kafka_login()
    local_secrets.ensure_logins(settings)
    logins = local_secrets.read_logins(settings)
    kafka = settings.kafka_login()
    assert (kafka.security_protocol, kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert kafka.username == "ivigwatch"
    assert kafka.password is not None
    assert kafka.password.get_secret_value() == logins["kafka"]["client"]["password"]
    assert kafka.ca_file == settings.secrets_dir / "ca.pem"
    for role in ("admin", "writer", "reader"):
        login = settings.influx_login(role)  # type: ignore[arg-type]
        assert login is not None
        assert login.username == logins["influx"][role]["username"]
    shown = str(settings.masked()) + repr(settings) + repr(kafka) + repr(settings.influx_login("admin"))
    assert not any(p in shown for p in (u["password"] for u in logins["influx"].values()))
    assert logins["kafka"]["client"]["password"] not in shown
    # children get the state dir, not the generated passwords, in their environment
    assert logins["kafka"]["client"]["password"] not in str(settings.to_env())


def test_plain_text_local_stack_and_external_servers(tmp_path: Path) -> None:
    plain = _local(tmp_path, local_secure=False)
    assert plain.kafka_login().security_protocol == "PLAINTEXT"
    assert plain.influx_login("reader") is None
    assert "security_protocol" in kafka_clients.connection_options(plain)
    assert kafka_clients.faust_credentials(plain) is None
    external = Settings(
        kafka_bootstrap="k1:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_username="svc",
        kafka_password="pw",  # type: ignore[arg-type]
        influx_url="https://influx:8086",
        influx_username="writer",
        influx_password="w-pw",  # type: ignore[arg-type]
        state_dir=tmp_path,
    )
    login = external.kafka_login()
    assert (login.security_protocol, login.username, login.ca_file) == ("SASL_SSL", "svc", None)
    options = kafka_clients.connection_options(external)
    assert options["sasl_plain_username"] == "svc"
    assert options["sasl_plain_password"] == "pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname
    credentials = kafka_clients.faust_credentials(external)
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"
    reader = external.influx_login("reader")  # no read user set: falls back to the writer
    assert reader is not None
    assert reader.username == "writer"


def test_broker_certificate_is_signed_by_the_local_ca_for_loopback(tmp_path: Path) -> None:
    settings = _local(tmp_path)
    paths = local_secrets.ensure_certificates(settings)
    for path in (paths.ca_key, paths.broker_keystore, paths.ca_cert):
        assert _mode(path) == 0o600
    keystore = paths.broker_keystore.read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka's PEM keystore wants
    cert = tmp_path / "broker.crt"
    cert.write_text(keystore[keystore.index("-----BEGIN CERTIFICATE-----") :])
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(paths.ca_cert), "-verify_ip", "127.0.0.1", str(cert)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert local_secrets.ensure_certificates(settings).broker_keystore.read_text() == keystore  # made once
    security = local_kafka.broker_security(settings)
    assert security is not None
    assert security.keystore == paths.broker_keystore


def test_scram_users_of_the_storage_format(tmp_path: Path) -> None:
    settings = _local(tmp_path)
    local_secrets.ensure_logins(settings)
    args = local_kafka.scram_arguments(settings)
    assert args[0::2] == ["--add-scram"] * 4
    assert {a.split("=", 1)[0] for a in args[1::2]} == {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    assert any("name=ivigwatch," in a for a in args[1::2])
