"""When each patient next has a timer due, so the periodic tick visits only those patients."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class DueIndex:
    """A min-heap of (due time, patient) with lazy deletion: `update` supersedes older entries."""

    _heap: list[tuple[datetime, str]] = field(default_factory=list)
    _due: dict[str, datetime] = field(default_factory=dict)

    def update(self, patient_id: str, at: datetime | None) -> None:
        """The patient's next due time (None: nothing pending)."""
        if at is None:
            self._due.pop(patient_id, None)
            return
        if self._due.get(patient_id) == at:
            return
        self._due[patient_id] = at
        heapq.heappush(self._heap, (at, patient_id))
        if len(self._heap) > 4 * len(self._due) + 64:
            self._heap = [(when, pid) for pid, when in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, now: datetime) -> list[str]:
        """The patients due at or before `now`, each once, removed from the index."""
        found: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            at, patient_id = heapq.heappop(self._heap)
            if self._due.get(patient_id) == at:
                del self._due[patient_id]
                found.append(patient_id)
        return found

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()

    def __contains__(self, patient_id: object) -> bool:
        return patient_id in self._due

    def __len__(self) -> int:
        return len(self._due)
