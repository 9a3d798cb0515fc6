"""The one settings object: every piece of configuration is read here, from `IVIGWATCH_*` env vars."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.parsing import DEFAULT_MAX_SKEW_MINUTES
from streams.infra.retention import influx_duration

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_LOGINS_FILE = "logins.json"
"""Under `<state_dir>/secrets/`: the local stack's generated logins (written by deploy/secrets.py)."""
LOCAL_CA_FILE = "ca.pem"
"""Under `<state_dir>/secrets/`: the local CA that signed the broker's certificate."""

InfluxRole = Literal["writer", "reader", "admin"]


class LocalSecretsMissing(RuntimeError):
    """The secured local stack's generated logins are not there yet (no `stack up` in this state dir)."""


@dataclass(frozen=True)
class KafkaLogin:
    """How to reach and log in to Kafka: the effective security settings (password never in repr)."""

    security_protocol: str
    sasl_mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None


@dataclass(frozen=True)
class InfluxLogin:
    """One InfluxDB user (v1 basic auth)."""

    username: str
    password: SecretStr


class Settings(BaseSettings):
    """ivigwatch configuration. Each field is the env var `IVIGWATCH_<FIELD NAME>`."""

    model_config = SettingsConfigDict(env_prefix="IVIGWATCH_", frozen=True, extra="ignore")

    # --- servers -------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        None, description="Existing Kafka bootstrap servers (host:port,...); unset = local broker"
    )
    influx_url: str | None = Field(
        None, description="Existing InfluxDB base URL (v1 HTTP API); unset = local InfluxDB"
    )
    influx_db: str = Field("ivigwatch", description="InfluxDB database name")
    influx_username: str | None = Field(None, description="InfluxDB user (v1 basic auth)")
    influx_password: SecretStr | None = Field(None, description="InfluxDB password")
    influx_read_username: str | None = Field(
        None,
        description="InfluxDB user with read rights only (query, report, export, console charts; the "
        "writer's rollup read-backs)",
    )
    influx_read_password: SecretStr | None = Field(None, description="Password of the read-only user")
    influx_admin_username: str | None = Field(
        None, description="InfluxDB admin (database, retention policies, rollups: `influx setup` only)"
    )
    influx_admin_password: SecretStr | None = Field(None, description="Password of the InfluxDB admin")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        None, description="Kafka listener security; unset = the local stack's (SASL_SSL when secured)"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism of the Kafka login"
    )
    kafka_username: str | None = Field(None, description="Kafka SASL user")
    kafka_password: SecretStr | None = Field(None, description="Kafka SASL password")
    kafka_ca_file: Path | None = Field(
        None, description="CA certificate(s) that signed the broker's TLS certificate"
    )
    influx_raw_retention: Annotated[str, AfterValidator(influx_duration)] = Field(
        "520w", description="How long raw points are kept (default policy autogen): INF or e.g. 520w, 90d"
    )
    influx_rollup_retention: Annotated[str, AfterValidator(influx_duration)] = Field(
        "INF", description="How long the 1-minute vitals rollups are kept (policy rollup)"
    )

    # --- local stack (used only when the server settings above are unset) ----------------
    state_dir: Path = Field(
        REPO_ROOT / ".local", description="Where the local stack keeps data, logs and pids"
    )
    local_kafka_port: int = Field(19092, description="Loopback port of the local broker")
    local_kafka_controller_port: int = Field(19093, description="Local KRaft controller port")
    local_kafka_heap_mb: int = Field(768, description="Heap of the local broker JVM (MiB)")
    local_influx_port: int = Field(18086, description="Loopback port of the local InfluxDB")
    local_influx_rpc_port: int = Field(
        18088, description="Loopback port of the local InfluxDB's backup/restore (RPC) service"
    )
    local_secure: bool = Field(
        True, description="Local stack with logins: Kafka SASL/SCRAM over TLS, InfluxDB users (false: none)"
    )
    stack_start_timeout: float = Field(90.0, description="Seconds to wait for a server to start")

    # --- topics and workers ---------------------------------------------------------------
    topic_partitions: int = Field(8, description="Partitions of the keyed topics (set at creation)")
    rules_app_id: str = Field("ivigwatch-rules", description="Consumer group of the rule worker")
    writer_app_id: str = Field("ivigwatch-writer", description="Consumer group of the writer")
    store: str = Field("memory://", description="Faust table store (memory:// or rocksdb://)")
    web_host: str = Field("127.0.0.1", description="Interface the workers' /healthz binds to")
    rules_web_port: int = Field(6066, description="Port of the rule worker's web server")
    writer_web_port: int = Field(6067, description="Port of the writer's web server")
    tick_seconds: float = Field(5.0, description="How often timers are checked with the wall clock")
    checkpoint_seconds: float = Field(
        2.0,
        gt=0,
        le=30,
        description="How often the rules worker stores its changed patient states and lets the offsets "
        "of the events they cover be committed",
    )
    checkpoint_events: int = Field(
        2000, ge=1, description="Events the rules worker takes at most between two checkpoints"
    )
    live_states_mb: int = Field(
        256,
        ge=1,
        description="Memory the rules worker keeps its most recently active patients' states in, MB "
        "(estimated); the others are read from the state table at their next event",
    )
    max_clock_skew_minutes: float = Field(
        DEFAULT_MAX_SKEW_MINUTES,
        gt=0,
        description="An event or nurse action timed more than this ahead of its arrival is dead-lettered",
    )
    simulated_clock: bool = Field(
        False,
        description="Accelerated simulations only (the demo's and the tests' own stacks), never "
        "production: the live clock follows the latest event time seen and no arrival bound applies",
    )
    rules_file: Path | None = Field(None, description="Rule file (TOML); unset = default rules")
    log_level: str = Field("info", description="Worker log level")
    worker_datadir: Path | None = Field(
        None, description="Faust data directory of this worker; unset = <state_dir>/faust/<role>"
    )
    worker_session_timeout_seconds: float = Field(
        10.0, description="A worker that stops heartbeating (killed) loses its partitions after this long"
    )

    # --- home devices and the patient's app: the gateway -------------------------------------
    gateway_host: str = Field("127.0.0.1", description="Interface the device and app gateway binds to")
    gateway_port: int = Field(8090, description="Port of the device and app gateway")
    gateway_requests_per_second: float = Field(
        2.0, gt=0, description="Requests one credential may make per second at the gateway (sustained)"
    )
    gateway_burst: int = Field(
        20, ge=1, description="Requests one credential may make at once at the gateway"
    )
    gateway_max_batch: int = Field(500, ge=1, le=5000, description="Events in one gateway request, at most")
    gateway_feed_hours: float = Field(
        24.0,
        gt=0,
        le=168,
        description="How far back the patient app's messages are read when the gateway starts",
    )
    care_team_phone: str = Field(
        "",
        max_length=32,
        description="The care team's phone number the patient app calls (empty: no call button)",
    )
    emergency_number: str = Field(
        "911", max_length=16, description="The emergency number the patient app offers"
    )
    gateway_dedupe_hours: float = Field(
        24.0, gt=0, description="How long the gateway remembers produced event ids, to drop a resent batch"
    )

    # --- nurses: console, CLI, pager ----------------------------------------------------------
    console_host: str = Field("127.0.0.1", description="Interface the nurse console binds to")
    console_port: int = Field(8080, description="Port of the nurse console")
    console_users: SecretStr | None = Field(
        None,
        description="Console accounts: name:hash,... (hashes from `ivigwatch console hash-password`)",
    )
    console_secret: SecretStr | None = Field(
        None, description="Key signing console sessions; unset = random (logins end at restart)"
    )
    console_hosts: str | None = Field(
        None,
        description="Host names the console answers to besides localhost, 127.0.0.1, [::1] and its bind host "
        "(comma-separated `name` or `name:port`, e.g. the reverse proxy's public name)",
    )
    console_login_free_failures: int = Field(
        3, ge=1, description="Failed console logins from one address for one name before tries are delayed"
    )
    console_login_client_free_failures: int = Field(
        10, ge=1, description="Failed console logins from one address (any names) before tries are delayed"
    )
    console_login_max_delay_seconds: float = Field(
        300.0, ge=1.0, description="Cap of the delay between login tries (it doubles from 1 s per failure)"
    )
    console_trusted_proxies: str | None = Field(
        None,
        description="IP addresses of reverse proxies whose X-Forwarded-For names the console's client "
        "(comma-separated); unset = the remote address is the client",
    )
    console_oidc_issuer: str | None = Field(
        None,
        description="Issuer URL of the OpenID Connect provider for the console's single sign-on "
        "(its /.well-known/openid-configuration is read); unset = local accounts only",
    )
    console_oidc_client_id: str | None = Field(None, description="The console's client id at the provider")
    console_oidc_client_secret: SecretStr | None = Field(
        None, description="The console's client secret at the provider; unset = a public client (PKCE only)"
    )
    console_oidc_redirect_url: str | None = Field(
        None,
        description="Callback URL registered at the provider; unset = <scheme>://<host the browser "
        "used>/login/sso/callback",
    )
    console_oidc_scopes: str = Field("openid profile email", description="Scopes the console asks for")
    console_oidc_name_claim: str = Field(
        "preferred_username",
        description="ID token claim naming the user (the `by` of their actions; falls back to `email`, "
        "then `sub`)",
    )
    console_oidc_role_claim: str = Field(
        "groups", description="ID token claim listing the user's groups or roles (a list or a string)"
    )
    console_oidc_roles: str | None = Field(
        None,
        description="Claim values mapped to console roles: value=role,... (roles nurse, charge_nurse, "
        "analyst, admin); a user with no mapped value is refused",
    )
    nurse_id: str | None = Field(None, description="Who `ivigwatch ack/resolve` act as (the `by` field)")
    pager_webhook_url: SecretStr | None = Field(
        None, description="Webhook the pager bridge posts to (may hold a token: never logged); unset = off"
    )
    pager_roster_file: Path | None = Field(
        None,
        description="On-call roster (TOML): each page goes to the person on call for its severity and "
        "escalation level through their own channels; unset = every page to the one webhook",
    )
    pager_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="The secrets the roster's channels name, as a JSON object {name: value} (webhook "
        "and topic URLs, API tokens, phone numbers; never logged)",
    )
    pager_app_id: str = Field("ivigwatch-pager", description="Consumer group of the pager bridge")
    pager_web_port: int = Field(6068, description="Port of the pager bridge's web server")
    pager_max_attempts: int = Field(8, description="Deliveries tried before a page is dead-lettered")
    pager_person_attempts: int = Field(
        3,
        ge=1,
        description="With a roster: deliveries tried on each of a person's channels before the roster's "
        "fallback contact is paged (who then gets IVIGWATCH_PAGER_MAX_ATTEMPTS)",
    )
    pager_timeout_seconds: float = Field(5.0, description="Timeout of one webhook delivery")

    # --- pipeline watchdog (`ivigwatch watchdog`) -----------------------------------------------
    watchdog_interval_seconds: float = Field(
        5.0, description="How often the watchdog samples lag and /healthz"
    )
    watchdog_stall_seconds: float = Field(
        60.0, description="Lag growing (or events waiting unconsumed) this long raises pipeline_stalled"
    )
    watchdog_unanswered_seconds: float = Field(
        30.0, description="A rule worker not answering /healthz this long raises pipeline_stalled"
    )
    watchdog_health_urls: str | None = Field(
        None, description="Comma-separated /healthz URLs of the rule workers; unset = the local one"
    )
    watchdog_web_port: int = Field(6069, description="Port of the watchdog's own /healthz")

    # --- metrics (Prometheus) -------------------------------------------------------------------
    metrics_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="Bearer token a scrape must send to /metrics of the workers, watchdog, console and "
        "gateway; unset = /metrics answers loopback clients only",
    )

    # --- time-series writer -----------------------------------------------------------------
    writer_batch_lines: int = Field(5000, description="Flush a batch at this many lines")
    writer_flush_seconds: float = Field(1.0, description="... or after this many seconds")
    writer_max_backoff_seconds: float = Field(
        30.0, description="Cap of the retry backoff while InfluxDB is unreachable"
    )

    @field_validator("pager_roster_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """An empty IVIGWATCH_PAGER_ROSTER_FILE (compose's `${VAR:-}`) means no roster."""
        return None if value == "" else value

    @property
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def uses_local_influx(self) -> bool:
        return self.influx_url is None

    @property
    def bootstrap(self) -> str:
        """Kafka bootstrap servers to connect to (local broker when none is configured)."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.local_kafka_port}"

    @property
    def influx_base_url(self) -> str:
        """InfluxDB base URL to connect to (local server when none is configured)."""
        url = self.influx_url or f"http://127.0.0.1:{self.local_influx_port}"
        return url.rstrip("/")

    @property
    def secrets_dir(self) -> Path:
        """Where the local stack keeps its generated passwords, CA and keys (mode 0700)."""
        return self.state_dir.resolve() / "secrets"

    @property
    def local_stack_secured(self) -> bool:
        """True when some local server runs with the generated logins (local_secure)."""
        return self.local_secure and (self.uses_local_kafka or self.uses_local_influx)

    def _local_logins(self) -> dict[str, Any]:
        path = self.secrets_dir / LOCAL_LOGINS_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise LocalSecretsMissing(
                f"the local stack's logins are not in {self.secrets_dir} yet: start it with "
                "`ivigwatch stack up` (or set IVIGWATCH_LOCAL_SECURE=false for the plain-text stack)"
            ) from None
        except (OSError, ValueError) as exc:
            raise LocalSecretsMissing(f"cannot read {path}: {type(exc).__name__}") from None
        return data

    def kafka_login(self) -> KafkaLogin:
        """The effective Kafka login: the explicit `kafka_*` settings; for the secured local broker,
        the generated user, password and CA under `secrets_dir` (explicit fields still win)."""
        if self.uses_local_kafka and self.local_secure:
            username, password = self.kafka_username, self.kafka_password
            if username is None or password is None:
                generated = self._local_logins()["kafka"]["client"]
                username, password = generated["username"], SecretStr(generated["password"])
            return KafkaLogin(
                security_protocol=self.kafka_security_protocol or "SASL_SSL",
                sasl_mechanism=self.kafka_sasl_mechanism,
                username=username,
                password=password,
                ca_file=self.kafka_ca_file or self.secrets_dir / LOCAL_CA_FILE,
            )
        protocol = self.kafka_security_protocol or "PLAINTEXT"
        sasl = protocol.startswith("SASL")
        return KafkaLogin(
            security_protocol=protocol,
            sasl_mechanism=self.kafka_sasl_mechanism if sasl else None,
            username=self.kafka_username if sasl else None,
            password=self.kafka_password if sasl else None,
            ca_file=self.kafka_ca_file,
        )

    def influx_login(self, role: InfluxRole) -> InfluxLogin | None:
        """The InfluxDB user for `role` (None: no login). The secured local InfluxDB has one generated
        user per role; elsewhere `influx_*` (writer), `influx_read_*` and `influx_admin_*` are used,
        and an unset reader or admin falls back to the writer user."""
        explicit = {
            "writer": (self.influx_username, self.influx_password),
            "reader": (self.influx_read_username, self.influx_read_password),
            "admin": (self.influx_admin_username, self.influx_admin_password),
        }
        username, password = explicit[role]
        if username:
            return InfluxLogin(username, password or SecretStr(""))
        if self.uses_local_influx and self.local_secure:
            generated = self._local_logins()["influx"][role]
            return InfluxLogin(generated["username"], SecretStr(generated["password"]))
        if role != "writer":
            return self.influx_login("writer")
        return None

    def masked(self) -> dict[str, object]:
        """Settings as a dict with secrets masked, for display."""
        return self.model_dump(mode="json")

    @property
    def pager_webhook(self) -> str | None:
        """The webhook URL in clear, for the pager bridge only."""
        return None if self.pager_webhook_url is None else self.pager_webhook_url.get_secret_value()

    def pager_secret_values(self) -> dict[str, str]:
        """The roster channels' secrets in clear, for the pager bridge only."""
        return {name: value.get_secret_value() for name, value in self.pager_secrets.items()}

    def to_env(self) -> dict[str, str]:
        """These settings as `IVIGWATCH_*` variables, to hand to a child process (secrets included)."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, dict):
                plain = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in value.items()}
                value = json.dumps(plain)
            env[f"IVIGWATCH_{name.upper()}"] = str(value)
        return env


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
