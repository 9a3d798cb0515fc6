"""What every rule is evaluated against: one patient's state and session at one event time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.ruleset import Phase, RuleSet
from models.state import PatientState, SessionState


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Built once per evaluation time by the engine; `phase` is the session's phase at `ts`."""

    state: PatientState
    session: SessionState
    ts: datetime
    phase: Phase
    rules: RuleSet
