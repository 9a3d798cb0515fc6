"""Failed-login throttle: a growing delay per client and per (client, name); pure, the clock is an argument.

A try is claimed before its password is checked and counts as failed until `succeeded` says otherwise,
so tries sent at once cannot all slip through before the first one fails. A claim refused because a
delay is running is not counted and runs no password check. Only the client's own address is slowed:
another client can always try the same name (no account is ever locked for everyone).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

NAME_KEY_CHARS = 128
"""Names are cut to this many characters in the table (no account name is longer than 64)."""


@dataclass(frozen=True)
class ThrottlePolicy:
    """When the delays start, how they grow and how long the table remembers."""

    free_failures: int = 3
    """Failures from one client for one name before the first delay."""
    client_free_failures: int = 10
    """Failures from one client, all names together, before the first delay."""
    first_delay: float = 1.0
    max_delay: float = 300.0
    forget_after: float = 3600.0
    """An entry with no failure for this long (at least `max_delay`) is forgotten."""
    max_entries: int = 50_000
    """Beyond this many entries the least recently failed ones are forgotten (bounded memory)."""

    def __post_init__(self) -> None:
        if self.free_failures < 1 or self.client_free_failures < 1 or self.max_entries < 2:
            raise ValueError("free failures must be at least 1 and max_entries at least 2")
        if not 0 < self.first_delay <= self.max_delay <= self.forget_after:
            raise ValueError("need 0 < first_delay <= max_delay <= forget_after")

    def delay(self, failures: int, free: int) -> float:
        """The wait after the last of `failures`: none within `free`, then doubling from `first_delay`."""
        if failures < free:
            return 0.0
        return min(self.max_delay, self.first_delay * 2.0 ** min(failures - free, 64))


@dataclass
class _Entry:
    failures: int
    last: float


Key = tuple[str, ...]


class LoginThrottle:
    """The table of recent failures, keyed by client and by (client, name)."""

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic):
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self.entries: OrderedDict[Key, _Entry] = OrderedDict()
        """Ordered by last failure, oldest first: expired entries are always at the front."""

    @staticmethod
    def _keys(client: str, name: str) -> tuple[Key, Key]:
        return ("client", client), ("pair", client, name[:NAME_KEY_CHARS])

    def _wait(self, key: Key, free: int, now: float) -> float:
        entry = self.entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last + self.policy.delay(entry.failures, free) - now)

    def retry_after(self, client: str, name: str) -> float:
        """Seconds before a try from `client` for `name` may be checked (0.0: now)."""
        now = self.clock()
        self._forget(now)
        client_key, pair_key = self._keys(client, name)
        return max(
            self._wait(client_key, self.policy.client_free_failures, now),
            self._wait(pair_key, self.policy.free_failures, now),
        )

    def begin(self, client: str, name: str) -> float:
        """Claim a try: 0.0, and the try counts as failed until `succeeded`; or the seconds to wait
        (then nothing is counted and no password may be checked)."""
        wait = self.retry_after(client, name)
        if wait > 0:
            return wait
        now = self.clock()
        for key in self._keys(client, name):
            entry = self.entries.pop(key, None) or _Entry(0, now)
            entry.failures += 1
            entry.last = now
            self.entries[key] = entry  # to the end: the most recent failure
        while len(self.entries) > self.policy.max_entries:
            self.entries.popitem(last=False)
        return 0.0

    def succeeded(self, client: str, name: str) -> None:
        """The claimed try was right: forget the pair, take the try back from the client's count."""
        client_key, pair_key = self._keys(client, name)
        self.entries.pop(pair_key, None)
        entry = self.entries.get(client_key)
        if entry is not None:
            entry.failures -= 1
            if entry.failures <= 0:
                del self.entries[client_key]

    def _forget(self, now: float) -> None:
        while self.entries:
            key, entry = next(iter(self.entries.items()))
            if now - entry.last < self.policy.forget_after:
                return
            del self.entries[key]


def whole_seconds(wait: float) -> int:
    """A wait as the whole seconds of a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))
