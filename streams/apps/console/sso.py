"""Single sign-on through OpenID Connect: authorization code flow with PKCE, state and nonce.

Authlib's httpx client (`AsyncOAuth2Client`) builds the authorization URL (S256 code challenge) and
exchanges the code; joserfc (Authlib's JOSE library) checks the ID token's signature against the
provider's JWKS, then its issuer, audience, expiry, issue time and nonce. The user's name and role come
from configurable claims (IVIGWATCH_CONSOLE_OIDC_*); the login then gets the same signed session cookie
as a password login. What a login in progress must remember (state, nonce, code verifier) is kept in a
short-lived signed cookie, so no server state is needed between the redirect and the callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from streams.apps.console.auth import NURSE_NAME
from streams.apps.console.roles import Role, parse_role, strongest
from streams.infra.settings import Settings

log = logging.getLogger(__name__)

CALLBACK_PATH = "/login/sso/callback"
PENDING_COOKIE = "ivigwatch_sso"
PENDING_SECONDS = 600
"""How long a login may stay at the identity provider before the callback is refused."""
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
"""ID token signatures accepted (asymmetric only: never `none`, never HS* with the client secret)."""
LEEWAY_SECONDS = 60
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
TIMEOUT_SECONDS = 10.0


class SsoSettingsError(ValueError):
    """The IVIGWATCH_CONSOLE_OIDC_* settings are incomplete or malformed."""


class SsoError(Exception):
    """A single sign-on login failed (the message names the step, never a token)."""


def parse_role_map(text: str | None) -> dict[str, Role]:
    """`value=role,...` (IVIGWATCH_CONSOLE_OIDC_ROLES) as {claim value: role}."""
    mapping: dict[str, Role] = {}
    for number, entry in enumerate((text or "").split(","), start=1):
        if not entry.strip():
            continue
        value, equals, role = entry.strip().rpartition("=")
        if not equals or not value.strip():
            raise SsoSettingsError(f"IVIGWATCH_CONSOLE_OIDC_ROLES entry {number}: expected value=role")
        try:
            mapping[value.strip()] = parse_role(role.strip())
        except ValueError as exc:
            raise SsoSettingsError(f"IVIGWATCH_CONSOLE_OIDC_ROLES entry {number}: {exc}") from None
    if not mapping:
        raise SsoSettingsError("IVIGWATCH_CONSOLE_OIDC_ROLES is empty: map at least one value to a role")
    return mapping


def role_from_claims(claims: dict[str, Any], claim: str, mapping: dict[str, Role]) -> Role | None:
    """The strongest role the user's `claim` values map to (a list, or a space/comma-separated string)."""
    raw = claims.get(claim)
    if isinstance(raw, str):
        values = raw.replace(",", " ").split()
    elif isinstance(raw, list):
        values = [v for v in raw if isinstance(v, str)]
    else:
        values = []
    return strongest({mapping[v] for v in values if v in mapping})


def name_from_claims(claims: dict[str, Any], claim: str) -> str | None:
    """The user's console name: `claim`, else `email`, else `sub` (the first that is a valid name)."""
    for key in (claim, "email", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and NURSE_NAME.match(value):
            return value
    return None


@dataclass(frozen=True)
class SsoConfig:
    """The provider and how its claims map to a console user."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_url: str | None
    scopes: str
    name_claim: str
    role_claim: str
    roles: dict[str, Role]

    @classmethod
    def from_settings(cls, settings: Settings) -> SsoConfig | None:
        """None when single sign-on is off (no issuer); SsoSettingsError when it is half configured."""
        if not settings.console_oidc_issuer:
            return None
        if not settings.console_oidc_client_id:
            raise SsoSettingsError(
                "IVIGWATCH_CONSOLE_OIDC_ISSUER is set: set IVIGWATCH_CONSOLE_OIDC_CLIENT_ID too"
            )
        issuer = urlsplit(settings.console_oidc_issuer)
        if issuer.scheme != "https" and not (issuer.scheme == "http" and issuer.hostname in LOOPBACK):
            raise SsoSettingsError(
                "IVIGWATCH_CONSOLE_OIDC_ISSUER must be an https URL (plain http only on loopback, for tests)"
            )
        secret = settings.console_oidc_client_secret
        return cls(
            issuer=settings.console_oidc_issuer.rstrip("/"),
            client_id=settings.console_oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            redirect_url=settings.console_oidc_redirect_url,
            scopes=settings.console_oidc_scopes,
            name_claim=settings.console_oidc_name_claim,
            role_claim=settings.console_oidc_role_claim,
            roles=parse_role_map(settings.console_oidc_roles),
        )


@dataclass(frozen=True)
class Pending:
    """A login at the provider: what the callback must match (state, nonce) and prove (verifier)."""

    state: str
    nonce: str
    verifier: str
    redirect_url: str
    started: float

    @classmethod
    def new(cls, redirect_url: str, now: float) -> Pending:
        return cls(
            secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), redirect_url, now
        )


class PendingCodec:
    """Pending logins as signed cookie values (HMAC-SHA256 under a key derived from the session key)."""

    def __init__(self, session_key: bytes) -> None:
        self.key = hmac.new(session_key, b"ivigwatch oidc pending login", hashlib.sha256).digest()

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self.key, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def dump(self, pending: Pending) -> str:
        text = json.dumps(
            [pending.state, pending.nonce, pending.verifier, pending.redirect_url, pending.started]
        )
        payload = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")
        return f"{payload}.{self._mac(payload)}"

    def load(self, value: str | None, now: float) -> Pending | None:
        """The pending login of a cookie value, or None (missing, tampered, older than PENDING_SECONDS)."""
        if not value or "." not in value:
            return None
        payload, _, mac = value.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            state, nonce, verifier, redirect_url, started = json.loads(base64.urlsafe_b64decode(payload))
        except ValueError:
            return None
        if not 0 <= now - float(started) < PENDING_SECONDS:
            return None
        return Pending(state, nonce, verifier, redirect_url, float(started))


@dataclass(frozen=True)
class SsoUser:
    name: str
    role: Role


@dataclass
class OidcClient:
    """The console's client of one OpenID provider (its metadata and keys cached after first use)."""

    config: SsoConfig
    clock: Callable[[], float] = time.time
    metadata: dict[str, Any] | None = None
    keys: KeySet | None = field(default=None, repr=False)

    def _client(self, redirect_url: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=self.config.scopes,
            redirect_uri=redirect_url,
            code_challenge_method="S256",
            timeout=TIMEOUT_SECONDS,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx2.AsyncClient(timeout=TIMEOUT_SECONDS) as http:
                response = await http.get(url)
                response.raise_for_status()
                body = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            raise SsoError(f"the identity provider did not answer {url} ({type(exc).__name__})") from None
        if not isinstance(body, dict):
            raise SsoError(f"the identity provider's {url} is not a JSON object")
        return body

    async def discover(self) -> dict[str, Any]:
        """The provider's metadata (/.well-known/openid-configuration), its issuer checked."""
        if self.metadata is None:
            metadata = await self._get_json(f"{self.config.issuer}/.well-known/openid-configuration")
            if str(metadata.get("issuer", "")).rstrip("/") != self.config.issuer:
                raise SsoError("the identity provider's metadata names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(metadata.get(key), str):
                    raise SsoError(f"the identity provider's metadata has no {key}")
            self.metadata = metadata
        return self.metadata

    async def _keys(self, refresh: bool) -> KeySet:
        if self.keys is None or refresh:
            metadata = await self.discover()
            try:
                self.keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"]))  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError):
                raise SsoError("the identity provider's JWKS holds no usable key") from None
        return self.keys

    async def authorization_url(self, pending: Pending) -> str:
        """Where to send the browser: the provider's login, with state, nonce and the S256 challenge."""
        metadata = await self.discover()
        async with self._client(pending.redirect_url) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.verifier,
                nonce=pending.nonce,
            )
        return str(url)

    async def finish(self, pending: Pending, state: str, code: str) -> SsoUser:
        """The user of a callback: state matched, code exchanged (with the verifier), ID token checked."""
        if not hmac.compare_digest(state, pending.state):
            raise SsoError("the login's state does not match (start again)")
        metadata = await self.discover()
        async with self._client(pending.redirect_url) as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                )
            except (OAuthError, httpx2.HTTPError, ValueError) as exc:
                raise SsoError(f"the code exchange failed ({type(exc).__name__})") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError("the identity provider sent no ID token")
        claims = await self.validated_claims(id_token, pending.nonce)
        name = name_from_claims(claims, self.config.name_claim)
        if name is None:
            raise SsoError(f"the ID token names no valid user ({self.config.name_claim}, email, sub)")
        role = role_from_claims(claims, self.config.role_claim, self.config.roles)
        if role is None:
            raise SsoError(f"{name} has no ivigwatch role ({self.config.role_claim} maps to none)")
        return SsoUser(name, role)

    async def validated_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature (JWKS; keys fetched again for an unknown key id),
        issuer, audience, expiry, issue time and nonce are checked; SsoError otherwise."""
        try:
            decoded = jwt.decode(id_token, await self._keys(refresh=False), algorithms=ALGORITHMS)
        except JoseError:
            try:
                decoded = jwt.decode(id_token, await self._keys(refresh=True), algorithms=ALGORITHMS)
            except JoseError as exc:
                raise SsoError(f"the ID token's signature is not valid ({exc.error})") from None
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self.clock()),
            leeway=LEEWAY_SECONDS,
            # the issuer as configured, with or without its trailing slash (kept by some providers)
            iss={"essential": True, "values": [self.config.issuer, f"{self.config.issuer}/"]},
            aud={"essential": True, "value": self.config.client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise SsoError(f"the ID token was refused ({exc.error}: {exc.description})") from None
        claims = decoded.claims
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.config.client_id:
            raise SsoError("the ID token is for several audiences and not authorized for this console")
        return claims
