"""What the patient's app shows at a glance, from the events the gateway produced for the patient:
the pump's latest state and the last readings (in memory: a restart starts them afresh)."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from models.events import Event, Infusion, Vitals

READINGS_KEPT = 5
PATIENTS_KEPT = 50_000


@dataclass(slots=True)
class Glance:
    pump: dict[str, Any] | None = None
    readings: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=READINGS_KEPT))

    def view(self) -> dict[str, Any]:
        return {"pump": self.pump, "readings": list(reversed(self.readings))}


class PatientGlances:
    """Per patient (the most recently active `PATIENTS_KEPT`), the pump's state and last readings."""

    def __init__(self) -> None:
        self.glances: OrderedDict[str, Glance] = OrderedDict()

    def note(self, event: Event) -> None:
        if not isinstance(event, Infusion | Vitals):
            return
        glance = self.glances.pop(event.patient_id, None) or Glance()
        self.glances[event.patient_id] = glance
        if len(self.glances) > PATIENTS_KEPT:
            self.glances.popitem(last=False)
        ts = event.ts.isoformat()
        if isinstance(event, Infusion):
            if glance.pump is None or glance.pump["ts"] <= ts:
                rate = (
                    event.rate_ml_per_h
                    if event.rate_ml_per_h is not None
                    else (glance.pump or {}).get("rate")
                )
                glance.pump = {
                    "session_id": event.session_id,
                    "action": event.action.value,
                    "ts": ts,
                    "rate": rate,
                }
            return
        glance.readings.append({"ts": ts, "values": event.values()})
        ordered = sorted(glance.readings, key=lambda r: r["ts"])
        glance.readings.clear()
        glance.readings.extend(ordered)

    def view(self, patient_id: str) -> dict[str, Any]:
        glance = self.glances.get(patient_id)
        return Glance().view() if glance is None else glance.view()
