"""Nurse accounts, password hashes, signed session cookies and the middleware refusing anonymous requests.

Passwords are hashed with the standard library's scrypt (salted), in the contract's format
`scrypt$n$r$p$salt_b64$hash_b64`; they are never stored, logged or echoed in clear. A session is a
signed, HttpOnly, SameSite=Strict cookie holding the nurse's name, when it was issued and a nonce.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES, SALT_BYTES = 2**14, 8, 1, 32, 16
MAX_N, MAX_R, MAX_P = 2**20, 32, 16
"""Upper bounds on stored parameters, so a hand-edited hash cannot make a login take minutes."""

COOKIE = "ivigwatch_session"
SESSION_SECONDS = 12 * 3600  # one nursing shift
CSRF_HEADER, CSRF_VALUE = "X-Requested-With", "ivigwatch"
NURSE_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
"""A nurse's account name: it becomes the `by` of nurse actions (1-64 characters)."""

PUBLIC = frozenset(
    {
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/healthz"),
        ("GET", "/static/console.css"),
        ("GET", "/static/favicon.svg"),
    }
)
"""What an anonymous request may reach: the login form, its stylesheet and icon, the health check."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    """`name:hash,name:hash` as {name: hash}; AccountsError names the bad entry by position only."""
    if text is None or not text.strip():
        raise AccountsError(
            "no console accounts: set IVIGWATCH_CONSOLE_USERS=name:hash,... "
            "(make each hash with `ivigwatch console hash-password`)"
        )
    accounts: dict[str, str] = {}
    for number, entry in enumerate(text.split(","), start=1):
        name, colon, stored = entry.strip().partition(":")
        where = f"IVIGWATCH_CONSOLE_USERS entry {number}"
        if not colon or not NURSE_NAME.match(name):
            raise AccountsError(f"{where}: expected name:hash, the name 1-64 of letters, digits, . _ @ -")
        if name in accounts:
            raise AccountsError(f"{where}: the name {name!r} is given twice")
        try:
            _parse_hash(stored.strip())
        except ValueError as exc:
            raise AccountsError(f"{where} ({name}): bad hash, {exc}") from None
        accounts[name] = stored.strip()
    return accounts


@dataclass
class Authenticator:
    """Checks passwords and session cookies against the configured accounts."""

    accounts: dict[str, str]
    secret: bytes
    session_seconds: int = SESSION_SECONDS
    clock: Callable[[], float] = time.time
    revoked: dict[str, float] = field(default_factory=dict)
    """Nonces of sessions ended by logout, until they would have expired anyway."""
    failures: dict[str, list[float]] = field(default_factory=dict)

    # --- passwords -------------------------------------------------------------------------
    def check_password(self, name: str, password: str) -> bool:
        """Blocking (scrypt): call through `login` from a coroutine."""
        stored = self.accounts.get(name)
        ok = verify_password(password, stored or _DUMMY_HASH)
        return ok and stored is not None

    def throttled(self, name: str) -> bool:
        """Five failed logins for a name within five minutes lock it for the rest of those minutes."""
        now = self.clock()
        recent = [t for t in self.failures.get(name, []) if now - t < 300]
        self.failures[name] = recent
        return len(recent) >= 5

    async def login(self, name: str, password: str) -> bool:
        if self.throttled(name):
            return False
        ok = await asyncio.get_running_loop().run_in_executor(None, self.check_password, name, password)
        if ok:
            self.failures.pop(name, None)
        else:
            self.failures.setdefault(name, []).append(self.clock())
            if len(self.failures) > 10_000:  # bounded: forget the oldest names
                self.failures.pop(next(iter(self.failures)))
        return ok

    # --- session cookies -------------------------------------------------------------------
    def _mac(self, payload: str) -> str:
        digest = hmac.new(self.secret, payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, name: str) -> str:
        """A signed session token: name|issued|nonce, then its HMAC-SHA256."""
        payload = f"{name}|{int(self.clock())}|{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._mac(payload)}"

    def user_of(self, token: str | None) -> str | None:
        """The nurse a session token belongs to, or None (tampered, expired, revoked, unknown name)."""
        if not token or "." not in token:
            return None
        payload, _, mac = token.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        name, _, rest = payload.partition("|")
        issued_text, _, nonce = rest.partition("|")
        try:
            issued = int(issued_text)
        except ValueError:
            return None
        now = self.clock()
        if not 0 <= now - issued < self.session_seconds or nonce in self.revoked:
            return None
        return name if name in self.accounts else None

    def revoke(self, token: str | None) -> None:
        if token and self.user_of(token) is not None:
            now = self.clock()
            self.revoked = {n: exp for n, exp in self.revoked.items() if exp > now}
            self.revoked[token.rpartition(".")[0].rpartition("|")[2]] = now + self.session_seconds

    def basic_user(self, header: str | None) -> str | None:
        """The nurse named by an `Authorization: Basic` header with a right password (blocking)."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, binascii.Error):
            return None
        name, colon, password = decoded.partition(":")
        if not colon or self.throttled(name):
            return None
        return name if self.check_password(name, password) else None


AUTH_KEY = web.AppKey("authenticator", Authenticator)
_USER: Any = web.RequestKey("user", str) if hasattr(web, "RequestKey") else "user"  # aiohttp >= 3.14


def nurse(request: web.Request) -> str:
    """The logged-in nurse of a request that passed `auth_middleware`."""
    return str(request[_USER])


def same_origin(request: web.Request) -> bool:
    """A browser's form post carries Origin; when it does, it must be this console's own."""
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _refuse(request: web.Request) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        return web.json_response(
            {"error": "login required"},
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="ivigwatch", charset="UTF-8"'},
        )
    if request.path.startswith("/static/"):
        return web.Response(status=401, text="login required")
    raise web.HTTPSeeOther("/login")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page and API needs a session cookie (or Basic auth on /api/*); POSTs need the CSRF header."""
    auth = request.app[AUTH_KEY]
    if (request.method, request.path) in PUBLIC:
        return await handler(request)
    user = auth.user_of(request.cookies.get(COOKIE))
    if user is None and request.path.startswith("/api/") and "Authorization" in request.headers:
        header = request.headers["Authorization"]
        user = await asyncio.get_running_loop().run_in_executor(None, auth.basic_user, header)
    if user is None:
        return _refuse(request)
    request[_USER] = user
    if request.method == "POST":
        if request.path == "/logout":  # the page's log-out button is a plain form post
            if not same_origin(request):
                return web.json_response({"error": "cross-origin form post refused"}, status=403)
        elif request.headers.get(CSRF_HEADER) != CSRF_VALUE:
            return web.json_response({"error": f"missing header {CSRF_HEADER}: {CSRF_VALUE}"}, status=403)
    return await handler(request)


async def login_page_post(request: web.Request) -> web.StreamResponse:
    """POST /login: a right name and password set the session cookie and go to /."""
    if not same_origin(request):
        return web.json_response({"error": "cross-origin form post refused"}, status=403)
    form = await request.post()
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    auth = request.app[AUTH_KEY]
    if not name or not password or not await auth.login(name, password):
        raise web.HTTPSeeOther("/login?error=1")
    response = web.HTTPSeeOther("/")
    response.set_cookie(
        COOKIE,
        auth.issue(name),
        max_age=auth.session_seconds,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=request.secure,
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: the session ends here and now (its cookie is refused from now on)."""
    request.app[AUTH_KEY].revoke(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
