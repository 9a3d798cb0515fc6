"""Passwords, accounts, throttled logins and session cookies of the nurse console (no server)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from streams.apps.console.auth import (
    AccountsError,
    Authenticator,
    LoginThrottled,
    basic_credentials,
    hash_password,
    parse_accounts,
    verify_password,
)
from streams.apps.console.revocations import RevocationStore
from streams.apps.console.throttle import LoginThrottle, ThrottlePolicy


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_hash_is_salted_scrypt_in_the_contract_format_and_verifies_only_its_password() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    scheme, n, r, p, salt, key = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) == 32
    assert first != second  # a new salt each time
    assert "correct horse" not in first
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horse!", first)
    assert not verify_password("", first)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$16384$8$1$AAAA$AAAA",
        "scrypt$16384$8$1$AAAA",
        "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # not 2^k
        "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # slow
        "scrypt$16384$8$1$!!!$AAAA",
    ],
)
def test_a_malformed_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_accounts_are_parsed_and_a_bad_entry_is_named_by_position_without_its_hash() -> None:
    h1, h2 = hash_password("pw-one-1"), hash_password("pw-two-2")
    assert parse_accounts(f"rn-ana:{h1}, rn.bo@ward-3:{h2}") == {"rn-ana": h1, "rn.bo@ward-3": h2}
    with pytest.raises(AccountsError, match="IVIGWATCH_CONSOLE_USERS"):
        parse_accounts(None)
    with pytest.raises(AccountsError, match="IVIGWATCH_CONSOLE_USERS"):
        parse_accounts("  ")
    with pytest.raises(AccountsError, match="entry 2: expected name:hash"):
        parse_accounts(f"rn-ana:{h1},{h2}")
    with pytest.raises(AccountsError, match="given twice"):
        parse_accounts(f"rn-ana:{h1},rn-ana:{h2}")
    with pytest.raises(AccountsError, match=r"entry 1 \(rn-ana\): bad hash") as caught:
        parse_accounts("rn-ana:scrypt$16384$8$1$c2VjcmV0LXNhbHQ=$bm90LWEtaGFzaA==")
    assert "c2VjcmV0" not in str(caught.value)
    with pytest.raises(AccountsError, match="entry 1"):
        parse_accounts(f"name with spaces:{h1}")


def authenticator(clock: Clock | None = None) -> Authenticator:
    return Authenticator({"rn-ana": hash_password("pw-ana-1")}, b"k" * 32, clock=clock or Clock())


def test_a_signed_session_names_its_nurse_and_any_change_to_it_is_refused() -> None:
    auth = authenticator()
    token = auth.issue("rn-ana")
    assert auth.user_of(token) == "rn-ana"
    payload, _, mac = token.rpartition(".")
    assert auth.user_of(payload.replace("rn-ana", "rn-bob") + "." + mac) is None
    assert auth.user_of(payload + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")) is None
    assert auth.user_of(payload) is None
    assert auth.user_of("") is None and auth.user_of(None) is None
    other_key = Authenticator(auth.accounts, b"x" * 32, clock=auth.clock)
    assert other_key.user_of(token) is None


def test_a_session_ends_after_a_shift_on_logout_and_when_the_account_goes() -> None:
    clock = Clock()
    auth = authenticator(clock)
    token = auth.issue("rn-ana")
    clock.now += auth.session_seconds - 1
    assert auth.user_of(token) == "rn-ana"
    clock.now += 2
    assert auth.user_of(token) is None

    fresh = auth.issue("rn-ana")
    other = auth.issue("rn-ana")
    auth.revoke(fresh)
    assert auth.user_of(fresh) is None
    assert auth.user_of(other) == "rn-ana"  # only that session ends

    removed = Authenticator({}, auth.secret, clock=clock)
    assert removed.user_of(other) is None


async def test_login_checks_the_password_and_slows_down_that_client_never_the_name_for_everyone() -> None:
    clock = Clock()
    auth = authenticator(clock)
    auth.throttle = LoginThrottle(ThrottlePolicy(), clock)
    assert await auth.login("10.0.0.9", "rn-ana", "pw-ana-1")
    assert not await auth.login("10.0.0.9", "rn-ana", "wrong")
    assert not await auth.login("10.0.0.9", "rn-nobody", "pw-ana-1")
    for _ in range(2):
        await auth.login("10.0.0.9", "rn-ana", "wrong")
    checked: list[str] = []
    real_check = auth.check_password

    def counting(name: str, password: str) -> bool:
        checked.append(name)
        return real_check(name, password)

    auth.check_password = counting  # type: ignore[method-assign]
    with pytest.raises(LoginThrottled) as caught:
        await auth.login("10.0.0.9", "rn-ana", "pw-ana-1")  # held back, even with the right password
    assert caught.value.retry_after == pytest.approx(1.0)
    assert checked == []  # ... and no scrypt ran for it
    assert await auth.login("10.0.0.7", "rn-ana", "pw-ana-1")  # another client: the name is not locked
    clock.now += 1
    assert await auth.login("10.0.0.9", "rn-ana", "pw-ana-1")
    assert checked == ["rn-ana", "rn-ana"]


async def test_basic_auth_is_checked_against_the_same_accounts() -> None:
    auth = authenticator()

    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert await auth.basic_user("10.0.0.9", header("rn-ana", "pw-ana-1")) == "rn-ana"
    assert await auth.basic_user("10.0.0.9", header("rn-ana", "nope")) is None
    assert await auth.basic_user("10.0.0.9", header("rn-bob", "pw-ana-1")) is None
    assert await auth.basic_user("10.0.0.9", "Basic !!!") is None
    assert await auth.basic_user("10.0.0.9", "Bearer abc") is None
    assert await auth.basic_user("10.0.0.9", None) is None
    assert basic_credentials(header("rn-ana", "a:b")) == ("rn-ana", "a:b")
    assert basic_credentials(header("rn-ana", "")) is None


async def test_failed_basic_logins_are_throttled_like_the_form() -> None:
    auth = authenticator()
    wrong = "Basic " + base64.b64encode(b"rn-ana:guess").decode()
    for _ in range(3):
        assert await auth.basic_user("10.0.0.9", wrong) is None
    with pytest.raises(LoginThrottled):
        await auth.basic_user("10.0.0.9", wrong)


def test_a_revoked_session_stays_revoked_for_the_next_process_and_its_watchers_hear_of_it(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = RevocationStore(tmp_path / "console" / "revoked-sessions.json")
    auth = authenticator(clock)
    auth.store = store
    ended, kept = auth.issue("rn-ana"), auth.issue("rn-ana")
    heard: list[str] = []
    session = auth.session(ended)
    assert session is not None and session.ends == clock.now + auth.session_seconds
    auth.watch(session.nonce, lambda: heard.append("ended"))
    other = auth.session(kept)
    assert other is not None
    stop = auth.watch(other.nonce, lambda: heard.append("kept"))
    auth.revoke(ended)
    assert heard == ["ended"]
    stop()
    assert auth.watchers == {}

    restarted = Authenticator(auth.accounts, auth.secret, clock=clock, revoked=store.load(clock.now))
    assert restarted.user_of(ended) is None
    assert restarted.user_of(kept) == "rn-ana"


def test_sessions_from_before_not_before_are_refused() -> None:
    clock = Clock()
    auth = authenticator(clock)
    old = auth.issue("rn-ana")
    clock.now += 10
    auth.not_before = clock.now
    assert auth.user_of(old) is None
    assert auth.user_of(auth.issue("rn-ana")) == "rn-ana"
