"""The failed-login throttle (pure, fake clock): growing delays per client and per (client, name), never
a lock of an account for every client, and a table that forgets."""

from __future__ import annotations

import pytest

from streams.apps.console.throttle import LoginThrottle, ThrottlePolicy, whole_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, client: str, name: str) -> None:
    """One try claimed and never taken back: a failure."""
    assert throttle.begin(client, name) == 0.0


def test_the_delay_starts_after_the_free_failures_doubles_and_is_capped() -> None:
    policy = ThrottlePolicy(free_failures=3, first_delay=1.0, max_delay=300.0)
    assert [policy.delay(n, 3) for n in range(12)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert policy.delay(12, 3) == policy.delay(10_000, 3) == 300.0


def test_a_client_guessing_one_name_waits_longer_after_each_failure() -> None:
    clock = Clock()
    throttle = LoginThrottle(ThrottlePolicy(), clock)
    for _ in range(3):
        fail(throttle, "10.0.0.9", "rn-ana")
    assert throttle.begin("10.0.0.9", "rn-ana") == pytest.approx(1.0)  # refused, nothing counted
    assert throttle.begin("10.0.0.9", "rn-ana") == pytest.approx(1.0)
    waits = []
    for _ in range(12):
        clock.now += throttle.retry_after("10.0.0.9", "rn-ana")
        fail(throttle, "10.0.0.9", "rn-ana")
        waits.append(throttle.retry_after("10.0.0.9", "rn-ana"))
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]
    clock.now += 299.5
    assert throttle.retry_after("10.0.0.9", "rn-ana") == pytest.approx(0.5)
    assert whole_seconds(0.5) == 1 and whole_seconds(299.01) == 300


def test_the_same_name_from_another_client_is_never_held_back() -> None:
    throttle = LoginThrottle(ThrottlePolicy(), Clock())
    for _ in range(20):
        throttle.begin("10.0.0.9", "rn-ana")
    assert throttle.retry_after("10.0.0.9", "rn-ana") > 0
    assert throttle.retry_after("10.0.0.7", "rn-ana") == 0.0
    assert throttle.begin("10.0.0.7", "rn-ana") == 0.0


def test_a_client_trying_many_names_is_slowed_down_for_every_name() -> None:
    throttle = LoginThrottle(ThrottlePolicy(free_failures=3, client_free_failures=10), Clock())
    for n in range(10):
        fail(throttle, "10.0.0.9", f"rn-{n}")  # one or two tries per name stay under the pair limit
    assert throttle.retry_after("10.0.0.9", "rn-new") == pytest.approx(1.0)
    assert throttle.retry_after("10.0.0.7", "rn-new") == 0.0


def test_tries_sent_at_once_count_before_their_passwords_are_checked() -> None:
    throttle = LoginThrottle(ThrottlePolicy(), Clock())
    claimed = [throttle.begin("10.0.0.9", "rn-ana") for _ in range(50)]  # none has finished yet
    assert claimed.count(0.0) == 3  # the other 47 are refused without a password check


def test_a_right_password_clears_that_pair_only() -> None:
    clock = Clock()
    throttle = LoginThrottle(ThrottlePolicy(free_failures=3, client_free_failures=10), clock)
    fail(throttle, "10.0.0.9", "rn-ana")
    fail(throttle, "10.0.0.9", "rn-ana")
    assert throttle.begin("10.0.0.9", "rn-ana") == 0.0
    throttle.succeeded("10.0.0.9", "rn-ana")
    for _ in range(3):  # the pair starts afresh: three free failures again
        fail(throttle, "10.0.0.9", "rn-ana")
    assert throttle.retry_after("10.0.0.9", "rn-ana") > 0
    for _ in range(3):
        fail(throttle, "10.0.0.9", "rn-bo")
    assert throttle.begin("10.0.0.9", "rn-bo") > 0
    throttle.succeeded("10.0.0.9", "rn-ana")  # (as if a try had been claimed and was right)
    assert throttle.retry_after("10.0.0.9", "rn-bo") > 0  # another pair stays as it was
    # the client's count: 2 + 1 + 3 + 3 failures claimed, 2 tries taken back by success
    assert throttle.entries[("client", "10.0.0.9")].failures == 7


def test_old_entries_are_forgotten_and_the_table_is_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(ThrottlePolicy(forget_after=3600.0, max_entries=100), clock)
    for _ in range(5):
        throttle.begin("10.0.0.9", "rn-ana")
    clock.now += 3599
    assert throttle.retry_after("10.0.0.9", "rn-ana") == 0.0  # its delay is over ...
    assert ("pair", "10.0.0.9", "rn-ana") in throttle.entries  # ... but it is still remembered
    clock.now += 1
    throttle.retry_after("10.0.0.9", "rn-ana")
    assert throttle.entries == {}
    for n in range(1000):
        throttle.begin(f"10.1.{n // 250}.{n % 250}", "x" * 10_000)
    assert len(throttle.entries) == 100
    assert all(len(key[-1]) <= 128 for key in throttle.entries)


def test_a_successful_try_leaves_nothing_behind() -> None:
    throttle = LoginThrottle(ThrottlePolicy(), Clock())
    for _ in range(100):  # a script polling with HTTP Basic and the right password
        assert throttle.begin("10.0.0.9", "rn-ana") == 0.0
        throttle.succeeded("10.0.0.9", "rn-ana")
    assert throttle.entries == {}


@pytest.mark.parametrize(
    "bad",
    [
        {"free_failures": 0},
        {"client_free_failures": 0},
        {"first_delay": 0},
        {"first_delay": 10, "max_delay": 5},
        {"max_delay": 7200, "forget_after": 3600},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|need"):
        ThrottlePolicy(**bad)  # type: ignore[arg-type]
