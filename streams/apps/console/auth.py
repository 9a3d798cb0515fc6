"""Nurse accounts, password hashes, throttled logins and signed session cookies (the HTTP side: `access`).

Passwords are hashed with the standard library's scrypt (salted), in the contract's format
`scrypt$n$r$p$salt_b64$hash_b64`; they are never stored, logged or echoed in clear. A session is a
signed, HttpOnly, SameSite=Strict cookie holding the nurse's name, when it was issued and a nonce
(and, for a single sign-on login, the role the identity provider gave); a logout revokes its nonce
(kept on disk by `revocations` when the signing key is fixed). A local account's role is read from
IVIGWATCH_CONSOLE_USERS on every request (`name:hash:role`; `name:hash` is a nurse).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.apps.console.revocations import RevocationStore
from streams.apps.console.roles import DEFAULT_ROLE, Role, parse_role
from streams.apps.console.throttle import LoginThrottle, whole_seconds

log = logging.getLogger(__name__)

SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES, SALT_BYTES = 2**14, 8, 1, 32, 16
MAX_N, MAX_R, MAX_P = 2**20, 32, 16
"""Upper bounds on stored parameters, so a hand-edited hash cannot make a login take minutes."""

COOKIE = "ivigwatch_session"
SESSION_SECONDS = 12 * 3600  # one nursing shift
NURSE_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
"""A nurse's account name: it becomes the `by` of nurse actions (1-64 characters)."""


class AccountsError(ValueError):
    """IVIGWATCH_CONSOLE_USERS is missing or malformed (the message never quotes a hash)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * r * (n + 2) * p
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, as `scrypt$n$r$p$salt_b64$hash_b64`."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a scrypt$n$r$p$salt$hash string")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("n, r, p must be integers and salt, hash base64") from None
    if not (1 < n <= MAX_N and n & (n - 1) == 0 and 0 < r <= MAX_R and 0 < p <= MAX_P):
        raise ValueError(f"n must be a power of two up to {MAX_N}, r at most {MAX_R}, p at most {MAX_P}")
    if not salt or not 16 <= len(key) <= 64:
        raise ValueError("salt must not be empty and the hash must be 16-64 bytes")
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; False for a wrong password or a malformed hash."""
    try:
        n, r, p, salt, key = _parse_hash(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(key)), key)


_DUMMY_HASH = hash_password(secrets.token_hex(8))
"""Checked against when the name is unknown, so a login takes as long whether or not the name exists."""


def parse_accounts(text: str | None) -> dict[str, str]:
    """`name:hash,name:hash:role` as {name: hash}; AccountsError names the bad entry by position only."""
    return {name: stored for name, (stored, _) in parse_local_accounts(text).items()}


def parse_roles(text: str | None) -> dict[str, Role]:
    """The role of each account of IVIGWATCH_CONSOLE_USERS (an entry without one is a nurse)."""
    return {name: role for name, (_, role) in parse_local_accounts(text).items()}


def parse_local_accounts(text: str | None) -> dict[str, tuple[str, Role]]:
    """`name:hash[:role],...` as {name: (hash, role)}; AccountsError names the bad entry by position."""
    if text is None or not text.strip():
        raise AccountsError(
            "no console accounts: set IVIGWATCH_CONSOLE_USERS=name:hash,... "
            "(make each hash with `ivigwatch console hash-password`)"
        )
    accounts: dict[str, tuple[str, Role]] = {}
    for number, entry in enumerate(text.split(","), start=1):
        name, colon, rest = entry.strip().partition(":")
        stored, has_role, role_text = rest.strip().partition(":")  # a hash has no colon
        where = f"IVIGWATCH_CONSOLE_USERS entry {number}"
        if not colon or not NURSE_NAME.match(name):
            raise AccountsError(
                f"{where}: expected name:hash or name:hash:role, the name 1-64 of letters, digits, . _ @ -"
            )
        if name in accounts:
            raise AccountsError(f"{where}: the name {name!r} is given twice")
        try:
            _parse_hash(stored.strip())
        except ValueError as exc:
            raise AccountsError(f"{where} ({name}): bad hash, {exc}") from None
        try:
            role = parse_role(role_text.strip()) if has_role else DEFAULT_ROLE
        except ValueError as exc:
            raise AccountsError(f"{where} ({name}): {exc}") from None
        accounts[name] = (stored.strip(), role)
    return accounts


@dataclass(frozen=True)
class Session:
    """A valid session cookie's nurse, nonce, when it ends (epoch seconds), role and how it logged in."""

    user: str
    nonce: str
    ends: float
    role: Role = DEFAULT_ROLE
    sso: bool = False
    """Logged in through OpenID Connect (the role came from the identity provider)."""


class LoginThrottled(Exception):
    """Too many failed logins from this client (for this name): no password was checked."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins; try again in {whole_seconds(retry_after)} s")
        self.retry_after = retry_after


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(name, password) of an `Authorization: Basic` header, or None when it is not one."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, binascii.Error):
        return None
    name, colon, password = decoded.partition(":")
    return (name, password) if colon and name and password else None


@dataclass
class Authenticator:
    """Checks passwords (throttled per client) and session cookies against the configured accounts."""

    accounts: dict[str, str]
    secret: bytes
    session_seconds: int = SESSION_SECONDS
    clock: Callable[[], float] = time.time
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    store: RevocationStore | None = None
    """Where revocations are kept across restarts (only with a fixed signing key)."""
    revoked: dict[str, float] = field(default_factory=dict)
    """Nonces of sessions ended by logout, until they would have expired anyway."""
    not_before: float = 0.0
    """Sessions issued before this are refused (set when the revocation file could not be read)."""
    watchers: dict[str, list[Callable[[], None]]] = field(default_factory=dict, repr=False)
    """Called when the session of that nonce is revoked (its open alert streams end)."""
    roles: dict[str, Role] = field(default_factory=dict)
    """Each local account's role (an account not listed is a nurse)."""
    sso: bool = False
    """Whether single sign-on sessions (OpenID Connect) are accepted."""

    # --- passwords -------------------------------------------------------------------------
    def check_password(self, name: str, password: str) -> bool:
        """Blocking (scrypt): call through `login` from a coroutine."""
        stored = self.accounts.get(name)
        ok = verify_password(password, stored or _DUMMY_HASH)
        return ok and stored is not None

    async def login(self, client: str, name: str, password: str) -> bool:
        """Whether `password` is `name`'s, tried from `client` (the remote address). Raises
        LoginThrottled, without checking anything, while that client (for that name) must wait."""
        wait = self.throttle.begin(client, name)
        if wait > 0:
            raise LoginThrottled(wait)
        ok = await asyncio.get_running_loop().run_in_executor(None, self.check_password, name, password)
        if ok:
            self.throttle.succeeded(client, name)
            return True
        wait = self.throttle.retry_after(client, name)
        if wait > 0:
            log.warning(
                "console login failed for %r from %s; its next try waits %d s",
                name[:64],
                client,
                whole_seconds(wait),
            )
        else:
            log.info("console login failed for %r from %s", name[:64], client)
        return False

    async def basic_user(self, client: str, header: str | None) -> str | None:
        """The nurse named by an `Authorization: Basic` header with a right password; raises
        LoginThrottled like `login`."""
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        return credentials[0] if await self.login(client, *credentials) else None

    # --- session cookies -------------------------------------------------------------------
    def _mac(self, payload: str) -> str:
        digest = hmac.new(self.secret, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, name: str, sso_role: Role | None = None) -> str:
        """A signed session token: name|issued|nonce (a single sign-on login: name|issued|nonce|role),
        then its HMAC-SHA256."""
        payload = f"{name}|{int(self.clock())}|{secrets.token_urlsafe(12)}"
        if sso_role is not None:
            payload += f"|{sso_role}"
        return f"{payload}.{self._mac(payload)}"

    def role_of(self, name: str) -> Role:
        """A local account's role."""
        return self.roles.get(name, DEFAULT_ROLE)

    def session(self, token: str | None) -> Session | None:
        """The session of a token, or None (tampered, expired, revoked, from before `not_before`,
        unknown name; single sign-on while it is not configured)."""
        if not token or "." not in token:
            return None
        payload, _, mac = token.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        name, _, rest = payload.partition("|")
        issued_text, _, nonce_role = rest.partition("|")
        nonce, sso, role_text = nonce_role.partition("|")
        try:
            issued = int(issued_text)
        except ValueError:
            return None
        now = self.clock()
        if not 0 <= now - issued < self.session_seconds or nonce in self.revoked:
            return None
        if issued < int(self.not_before):
            return None
        ends = float(issued + self.session_seconds)
        if sso:
            if not self.sso:
                return None
            try:
                return Session(name, nonce, ends, parse_role(role_text), sso=True)
            except ValueError:
                return None
        if name not in self.accounts:
            return None
        return Session(name, nonce, ends, self.role_of(name))

    def user_of(self, token: str | None) -> str | None:
        """The nurse a session token belongs to, or None."""
        session = self.session(token)
        return None if session is None else session.user

    def revoke(self, token: str | None) -> None:
        """End a session now: refused from now on (after a restart too, with a store), streams closed."""
        session = self.session(token)
        if session is None:
            return
        now = self.clock()
        self.revoked = {n: ends for n, ends in self.revoked.items() if ends > now}
        self.revoked[session.nonce] = session.ends
        if self.store is not None:
            try:
                self.revoked = {**self.store.save(self.revoked, now), **self.revoked}
            except OSError as exc:
                log.error(  # noqa: TRY400 - the traceback would say no more than this
                    "could not save the ended console session to %s (%s): "
                    "a restart of the console would accept it again until it expires",
                    self.store.path,
                    exc.strerror or type(exc).__name__,
                )
        for callback in self.watchers.pop(session.nonce, []):
            callback()

    def watch(self, nonce: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when the session of `nonce` is revoked; returns the function that stops it."""
        self.watchers.setdefault(nonce, []).append(callback)

        def stop() -> None:
            callbacks = self.watchers.get(nonce, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self.watchers.pop(nonce, None)

        return stop
