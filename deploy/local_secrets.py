"""The secured local stack's generated logins and TLS files, under `<state_dir>/secrets/` (mode 0700).

Created once per state dir by `stack up`, never in the repository; `streams/infra/settings.py` reads them
back (`Settings.kafka_login`, `Settings.influx_login`). Removing the state dir removes them.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from deploy.processes import ServerError
from streams.infra.settings import LOCAL_CA_FILE, LOCAL_LOGINS_FILE, Settings

CERT_DAYS = 825
KAFKA_CLIENT_USER = "ivigwatch"
KAFKA_BROKER_USER = "ivigwatch-broker"
INFLUX_USERS = {"admin": "ivigwatch-admin", "writer": "ivigwatch-writer", "reader": "ivigwatch-reader"}


@dataclass(frozen=True)
class SecretPaths:
    """Files under the secrets dir."""

    root: Path
    logins: Path
    ca_cert: Path
    ca_key: Path
    broker_keystore: Path  # PKCS#8 key + certificate chain, as Kafka's PEM keystore wants

    @classmethod
    def of(cls, settings: Settings) -> SecretPaths:
        root = settings.secrets_dir
        return cls(
            root=root,
            logins=root / LOCAL_LOGINS_FILE,
            ca_cert=root / LOCAL_CA_FILE,
            ca_key=root / "ca.key",
            broker_keystore=root / "kafka-broker.pem",
        )


def _password() -> str:
    return secrets.token_urlsafe(24)  # 192 bits; url-safe: no quote can break a config or InfluxQL


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only (created 0600, then renamed into place)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        Path(tmp).chmod(0o600)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _secure_dir(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)


def ensure_logins(settings: Settings) -> SecretPaths:
    """Generate the local stack's passwords once (kept across restarts; the broker's SCRAM users and
    InfluxDB's users are created from them)."""
    paths = SecretPaths.of(settings)
    _secure_dir(paths.root)
    if not paths.logins.exists():
        logins = {
            "kafka": {
                "client": {"username": KAFKA_CLIENT_USER, "password": _password()},
                "broker": {"username": KAFKA_BROKER_USER, "password": _password()},
            },
            "influx": {
                role: {"username": name, "password": _password()} for role, name in INFLUX_USERS.items()
            },
        }
        _write_private(paths.logins, json.dumps(logins, indent=2) + "\n")
    return paths


def read_logins(settings: Settings) -> dict[str, dict[str, dict[str, str]]]:
    """The generated logins (ensure_logins first)."""
    data: dict[str, dict[str, dict[str, str]]] = json.loads(SecretPaths.of(settings).logins.read_text())
    return data


def _openssl(*args: str, cwd: Path) -> None:
    try:
        out = subprocess.run(
            ["openssl", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        raise ServerError(
            "openssl is missing: it makes the local stack's certificates "
            "(apt-get install openssl, or set IVIGWATCH_LOCAL_SECURE=false)"
        ) from None
    if out.returncode != 0:
        raise ServerError(f"openssl {args[0]} failed (code {out.returncode}): {out.stderr.strip()[-400:]}")


def ensure_certificates(settings: Settings) -> SecretPaths:
    """A local CA and a broker certificate for 127.0.0.1/localhost signed by it, made once."""
    paths = ensure_logins(settings)
    if paths.ca_cert.exists() and paths.broker_keystore.exists():
        return paths
    root = paths.root
    with tempfile.TemporaryDirectory(dir=root, prefix=".certs-") as work_dir:
        work = Path(work_dir)
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", str(CERT_DAYS),
            "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=ivigwatch local CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=work,
        )  # fmt: skip
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", "broker.key",
            "-out", "broker.csr", "-subj", "/CN=localhost",
            cwd=work,
        )  # fmt: skip
        (work / "broker.ext").write_text(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
        )
        _openssl(
            "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-sha256", "-days", str(CERT_DAYS), "-extfile", "broker.ext",
            "-out", "broker.crt",
            cwd=work,
        )  # fmt: skip
        ca_pem = (work / "ca.pem").read_text()
        keystore = (work / "broker.key").read_text() + (work / "broker.crt").read_text() + ca_pem
        _write_private(paths.ca_key, (work / "ca.key").read_text())
        _write_private(paths.broker_keystore, keystore)
        _write_private(paths.ca_cert, ca_pem)
    return paths
