"""Single sign-on's pure parts: the role mapping, names from claims, the pending-login cookie, the
authorization URL (state, nonce, PKCE S256) and the ID token checks (signature, issuer, audience,
expiry, nonce). The whole flow against a real provider is in tests/integration/test_console_access.py."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from streams.apps.console.sso import (
    PENDING_SECONDS,
    OidcClient,
    Pending,
    PendingCodec,
    SsoConfig,
    SsoError,
    SsoSettingsError,
    name_from_claims,
    parse_role_map,
    role_from_claims,
)
from streams.infra.settings import Settings

ISSUER, CLIENT = "https://idp.example", "ivigwatch-console"
ROLES = parse_role_map("ivig-nurses=nurse, ivig-charge=charge_nurse,ivig-analysts=analyst,ivig-admins=admin")
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def test_the_role_mapping_and_the_strongest_mapped_role() -> None:
    assert ROLES["ivig-charge"] == "charge_nurse"
    with pytest.raises(SsoSettingsError, match="entry 1: unknown role 'boss'"):
        parse_role_map("x=boss")
    with pytest.raises(SsoSettingsError, match="is empty"):
        parse_role_map(" ")
    assert role_from_claims({"groups": ["staff", "ivig-analysts", "ivig-nurses"]}, "groups", ROLES) == "nurse"
    assert role_from_claims({"groups": "ivig-admins staff"}, "groups", ROLES) == "admin"
    assert role_from_claims({"groups": ["staff"]}, "groups", ROLES) is None
    assert role_from_claims({"roles": ["ivig-admins"]}, "groups", ROLES) is None


def test_single_sign_on_settings_need_a_client_roles_and_https() -> None:
    base = {"console_oidc_client_id": CLIENT, "console_oidc_roles": "g=nurse"}
    assert SsoConfig.from_settings(Settings()) is None
    config = SsoConfig.from_settings(Settings(console_oidc_issuer="https://idp.example/realm/", **base))
    assert (
        config is not None and config.issuer == "https://idp.example/realm" and config.roles == {"g": "nurse"}
    )
    assert SsoConfig.from_settings(Settings(console_oidc_issuer="http://localhost:8089", **base)) is not None
    with pytest.raises(SsoSettingsError, match="https"):
        SsoConfig.from_settings(Settings(console_oidc_issuer="http://idp.example", **base))
    with pytest.raises(SsoSettingsError, match="CLIENT_ID"):
        SsoConfig.from_settings(
            Settings(console_oidc_issuer="https://idp.example", console_oidc_roles="g=nurse")
        )
    with pytest.raises(SsoSettingsError, match="ROLES"):
        SsoConfig.from_settings(
            Settings(console_oidc_issuer="https://idp.example", console_oidc_client_id="c")
        )


def test_the_user_name_falls_back_to_email_then_sub_and_must_be_a_valid_name() -> None:
    assert name_from_claims({"preferred_username": "rn.ana", "sub": "1"}, "preferred_username") == "rn.ana"
    assert name_from_claims({"preferred_username": "Ana B", "email": "ana@h.org"}, "preferred_username") == (
        "ana@h.org"
    )
    assert name_from_claims({"sub": "x|y"}, "preferred_username") is None


def test_a_pending_login_cookie_is_signed_and_short_lived() -> None:
    codec = PendingCodec(b"k" * 32)
    pending = Pending.new("https://console.example/login/sso/callback", 1000.0)
    value = codec.dump(pending)
    assert codec.load(value, 1000.0 + PENDING_SECONDS - 1) == pending
    assert codec.load(value, 1000.0 + PENDING_SECONDS) is None
    assert PendingCodec(b"j" * 32).load(value, 1000.0) is None
    payload, _, mac = value.rpartition(".")
    assert codec.load(payload[:-2] + "xx." + mac, 1000.0) is None
    assert codec.load(None, 1000.0) is None


def client(now: float = 2_000_000_000.0) -> OidcClient:
    config = SsoConfig(
        ISSUER, CLIENT, "secret", None, "openid profile", "preferred_username", "groups", ROLES
    )
    metadata = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": "http://127.0.0.1:9/jwks",  # nothing listens: a refetch fails
    }
    return OidcClient(config, clock=lambda: now, metadata=metadata, keys=KeySet([KEY]))


async def test_the_authorization_url_carries_state_nonce_and_an_s256_challenge() -> None:
    pending = Pending.new("https://console.example/login/sso/callback", time.time())
    url = urlsplit(await client().authorization_url(pending))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.verifier.encode()).digest()).rstrip(b"=")
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/authorize"
    assert query == {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": pending.redirect_url,
        "scope": "openid profile",
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }


def id_token(key: RSAKey = KEY, **changes: Any) -> str:
    now = 2_000_000_000
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "u1", "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(changes)
    return jwt.encode(
        {"alg": "RS256", "kid": key.kid}, {k: v for k, v in claims.items() if v is not None}, key
    )


async def test_a_valid_id_token_is_accepted() -> None:
    claims = await client().validated_claims(id_token(groups=["ivig-nurses"]), "n-1")
    assert claims["sub"] == "u1" and claims["groups"] == ["ivig-nurses"]
    await client().validated_claims(id_token(aud=[CLIENT, "other"], azp=CLIENT), "n-1")
    await client().validated_claims(id_token(iss=f"{ISSUER}/"), "n-1")  # an issuer with its slash


@pytest.mark.parametrize(
    ("changes", "nonce", "why"),
    [
        ({"iss": "https://evil.example"}, "n-1", "iss"),
        ({"iss": f"{ISSUER}.evil.example"}, "n-1", "iss"),
        ({"aud": "another-app"}, "n-1", "aud"),
        ({"aud": [CLIENT, "other"]}, "n-1", "several audiences"),
        ({"exp": 2_000_000_000 - 120}, "n-1", "exp"),
        ({}, "n-2", "nonce"),
        ({"nonce": None}, "n-1", "nonce"),
        ({"exp": None}, "n-1", "exp"),
    ],
)
async def test_an_id_token_failing_a_check_is_refused(changes: dict[str, Any], nonce: str, why: str) -> None:
    with pytest.raises(SsoError, match=why):
        await client().validated_claims(id_token(**changes), nonce)


async def test_an_id_token_signed_by_another_key_is_refused() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(SsoError):  # the keys are fetched again (unreachable here): still refused
        await client().validated_claims(id_token(other), "n-1")
    unsigned = id_token().rsplit(".", 1)[0] + "."
    with pytest.raises(SsoError):
        await client().validated_claims(unsigned, "n-1")
