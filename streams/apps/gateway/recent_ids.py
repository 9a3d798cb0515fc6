"""The event ids the gateway has produced recently, so a resent batch is not produced twice (pure).

Kept for `keep_seconds` after they were produced, at most `limit` of them (the oldest go first);
the clock is an argument. A gateway restart forgets them: the rules then drop a repeat by its
`event_id` as they drop any duplicate.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class RecentIds:
    keep_seconds: float
    limit: int = 500_000
    _seen: OrderedDict[tuple[str, str], float] = field(default_factory=OrderedDict)

    def seen(self, patient_id: str, event_id: str, now: float) -> bool:
        self._expire(now)
        return (patient_id, event_id) in self._seen

    def add(self, patient_id: str, event_id: str, now: float) -> None:
        key = (patient_id, event_id)
        self._seen.pop(key, None)
        self._seen[key] = now
        while len(self._seen) > self.limit:
            self._seen.popitem(last=False)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if now - at <= self.keep_seconds:
                return
            del self._seen[key]
