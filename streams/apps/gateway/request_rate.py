"""Per-credential request rate: a token bucket per credential id (pure; the clock is an argument)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RequestRate:
    per_second: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    """credential id -> (tokens left, when they were counted)."""

    def take(self, key: str, now: float) -> float:
        """0.0 when a request may go now (one token taken), else the seconds to wait."""
        tokens, since = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - since) * self.per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.per_second
