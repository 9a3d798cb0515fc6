"""The serious events injected into a few sessions, each with the time of its first evidence.

Every kind follows the clinical reference's picture of it (Part B 2.4, 3, 5): when it starts, how
the vitals change, which symptoms the patient reports in the app (the contract's words), which
readings the patient takes because of it, and what counts as its **first evidence**: the first
report of one of its symptoms, or the first reading taken while the patient's true (noise-free)
vitals meet its clinical definition. A page is due from then; sensitivity is judged from then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from models.alerts import Condition
from models.events import SymptomName, SymptomSeverity
from streams.apps.cohort.physiology import Course
from streams.apps.scenarios import Device


class Kind(StrEnum):
    ANAPHYLAXIS = "anaphylaxis"
    HYPOTENSION = "hypotension"
    FEBRILE = "febrile_reaction"
    THROMBOSIS = "thrombosis"
    BREATHING = "breathing_after"
    MENINGITIS = "aseptic_meningitis"
    HEMOLYSIS = "hemolysis"


class Criterion(StrEnum):
    """What, besides a report of one of the event's symptoms, counts as its evidence."""

    LOW_SYSTOLIC = "low_systolic"
    """A cuff reading while the true systolic is below 90 or more than 30 % below usual (NIAID/WAO)."""
    FEBRILE = "febrile"
    """A temperature reading while the true value is >= 38.0 C and >= 1.0 C above usual (NHSN/ISBT)."""
    LOW_SPO2 = "low_spo2"
    """An oximeter reading while the true SpO2 is 92 % or less (Brown severe)."""


PAGING_CONDITIONS: dict[Kind, frozenset[Condition]] = {
    Kind.ANAPHYLAXIS: frozenset(
        {
            Condition.ANAPHYLAXIS,
            Condition.HYPOTENSION,
            Condition.HYPOXEMIA,
            Condition.RESPIRATORY_COMPROMISE,
            Condition.INFUSION_REACTION,
            Condition.EARLY_WARNING_SCORE,
            Condition.TACHYCARDIA,
        }
    ),
    Kind.HYPOTENSION: frozenset(
        {
            Condition.HYPOTENSION,
            Condition.ANAPHYLAXIS,
            Condition.INFUSION_REACTION,
            Condition.EARLY_WARNING_SCORE,
            Condition.TACHYCARDIA,
        }
    ),
    Kind.FEBRILE: frozenset(
        {Condition.FEVER, Condition.INFUSION_REACTION, Condition.EARLY_WARNING_SCORE, Condition.TACHYCARDIA}
    ),
    Kind.THROMBOSIS: frozenset(
        {
            Condition.THROMBOSIS,
            Condition.RESPIRATORY_COMPROMISE,
            Condition.HYPOXEMIA,
            Condition.EARLY_WARNING_SCORE,
            Condition.TACHYCARDIA,
        }
    ),
    Kind.BREATHING: frozenset(
        {
            Condition.RESPIRATORY_COMPROMISE,
            Condition.HYPOXEMIA,
            Condition.EARLY_WARNING_SCORE,
            Condition.ANAPHYLAXIS,
            Condition.TACHYCARDIA,
            Condition.HYPERTENSION,
        }
    ),
    Kind.MENINGITIS: frozenset({Condition.ASEPTIC_MENINGITIS}),
    Kind.HEMOLYSIS: frozenset({Condition.HEMOLYSIS, Condition.RENAL_INJURY}),
}
"""A page about the event: urgent or higher, for one of these conditions (a stale-data page in the
same minutes is not about it)."""


@dataclass(frozen=True, slots=True)
class Report:
    """A symptom the patient reports in the app, `minute` after the start."""

    minute: float
    symptom: SymptomName
    severity: SymptomSeverity
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Sign:
    """A symptom the patient has from `start` to `end` (minutes after the start) but names only when
    a check-in asks about it."""

    start: float
    end: float
    symptom: SymptomName
    severity: SymptomSeverity
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Injected:
    """One serious event of one session."""

    kind: Kind
    detail: str
    onset: float
    """Minutes after the start."""
    courses: tuple[Course, ...]
    reports: tuple[Report, ...]
    readings: tuple[tuple[float, Device], ...]
    """Readings the patient takes because of the event: (minute, device)."""
    criteria: frozenset[Criterion] = field(default_factory=frozenset)
    reports_are_evidence: bool = True
    """False when the reports are only a prodrome (chills before a febrile reaction's fever)."""
    stop_at: float | None = None
    """The infusion is stopped here (before its planned end)."""
    revert_at: float | None = None
    """The rate goes back to the previous step here, and is not raised again."""
    signs: tuple[Sign, ...] = ()
    """Symptoms named in the answer to a check-in asked while they last (their first evidence)."""

    def signs_at(self, minute: float) -> tuple[Sign, ...]:
        return tuple(sign for sign in self.signs if sign.start <= minute < sign.end)

    def is_evidence_reading(
        self, device: Device, minute: float, true: dict[str, float], usual: dict[str, float]
    ) -> bool:
        """Whether a reading of `device` at `minute`, with these true vitals, shows the event."""
        if minute < self.onset:
            return False
        if device == "cuff" and Criterion.LOW_SYSTOLIC in self.criteria:
            return true["systolic_bp"] < 90 or true["systolic_bp"] < 0.7 * usual["systolic_bp"]
        if device == "thermometer" and Criterion.FEBRILE in self.criteria:
            t = true["temperature_c"]
            return t >= 38.0 and t - usual["temperature_c"] >= 1.0
        if device == "oximeter" and Criterion.LOW_SPO2 in self.criteria:
            return true["spo2"] <= 92
        return False
