"""One simulated session planned in full from (seed, session index): every event the rules will
receive and when it arrives, the patient's true vitals for readings taken on request, and the
injected serious event if there is one.

Random streams, all from (seed, index): the session's own `random.Random` draws the patient, their
devices, the schedule and every planned reading; a second decides whether the session has a
serious event and draws it; the patient's drift has a third. So a session without a serious event
is the same whatever `serious_share` is, and the planned readings are the same whatever the rules
do (the responses to the rules draw from a fourth, see run.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from models.events import Event, SymptomName, SymptomSeverity
from streams.apps.cohort.care_schedule import (
    WORN_AFTER_END,
    PumpPlan,
    SetReason,
    care_sets,
    pump_plan,
    revise,
    take_sets,
    worn_samples,
)
from streams.apps.cohort.device_noise import Biases, artefact_windows, draw_biases, measure
from streams.apps.cohort.event_builders import infusion_event, profile_event, symptom_event, vitals_event
from streams.apps.cohort.parameters import Parameter
from streams.apps.cohort.physiology import Body, draw_drift
from streams.apps.cohort.population import Patient, draw_patient
from streams.apps.cohort.serious_courses import draw_injected
from streams.apps.cohort.serious_events import Injected, Report
from streams.apps.scenarios import Device

BASE_START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SESSION_SPACING = timedelta(minutes=37)
"""Session i starts at BASE_START + i x this (patients are independent; the time is only a label)."""
PROFILE_LEAD = timedelta(minutes=40)
POST_INFUSION_DAYS = 10
"""A session is followed this long after its stop (the rule set's post-late window)."""
SPOT_LATENCY = (2.0, 20.0)
STORE_AND_FORWARD_SHARE = 0.05
STORE_AND_FORWARD = (60.0, 600.0)
WORN_LATENCY = (1.0, 3.0)
PUMP_LATENCY = (1.0, 5.0)
APP_LATENCY = (1.0, 10.0)
"""Seconds from an event's time to its arrival (the rules' clock)."""
HEADACHE_SHARE = 0.08
HEADACHE_DURING_SHARE = 0.5
HEADACHE_SCORE = (2, 4)
HEADACHE_AFTER_MINUTES = (120.0, 2880.0)

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "arrival",
        f"spot readings {SPOT_LATENCY[0]:g}-{SPOT_LATENCY[1]:g} s after they are taken, "
        f"{STORE_AND_FORWARD_SHARE:.0%} of them 1-10 min (phone out of reach, app sync); worn oximeter "
        f"{WORN_LATENCY[0]:g}-{WORN_LATENCY[1]:g} s, pump {PUMP_LATENCY[0]:g}-{PUMP_LATENCY[1]:g} s, "
        f"app reports {APP_LATENCY[0]:g}-{APP_LATENCY[1]:g} s",
        "[assumption]",
    ),
    Parameter(
        "mild headache",
        f"{HEADACHE_SHARE:.0%} of sessions, score {HEADACHE_SCORE[0]}-{HEADACHE_SCORE[1]}/10: "
        f"{HEADACHE_DURING_SHARE:.0%} during the infusion (after the first hour), the rest 2-48 h after it",
        "clinical reference 4.1 (headache 7.8 % of infusions); Nufactor mild = 1-4/10",
    ),
    Parameter(
        "follow-up",
        f"{POST_INFUSION_DAYS} days after the stop; epinephrine at home for every patient",
        "rule set post-late window; Nufactor (no kit, no infusion)",
    ),
)


def session_rng(seed: int, index: int, stream: str = "plan") -> random.Random:
    """A random stream of one session, from (seed, index) and the stream's name."""
    return random.Random(f"ivigwatch-cohort/{seed}/{index}/{stream}")  # noqa: S311 - simulation, not security


@dataclass(frozen=True, slots=True)
class Planned:
    """One event as the rules receive it: when it arrives, and whether it shows the serious event."""

    arrival: datetime
    event: Event
    evidence: bool = False


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Everything about one session fixed before it runs."""

    index: int
    seed: int
    patient: Patient
    session_id: str
    start: datetime
    pump: PumpPlan
    injected: Injected | None
    body: Body
    biases: Biases
    headache: bool
    events: tuple[Planned, ...] = ()
    """In arrival order."""

    @property
    def stop(self) -> datetime:
        return self.at(self.pump.stop)

    @property
    def horizon(self) -> datetime:
        """The run ends here: the end of the follow-up, and an hour for its timers."""
        return self.stop + timedelta(days=POST_INFUSION_DAYS, hours=1)

    @property
    def infusion_hours(self) -> float:
        return self.pump.stop / 60

    def at(self, minute: float) -> datetime:
        return self.start + timedelta(seconds=round(minute * 60, 3))

    def minute(self, ts: datetime) -> float:
        return (ts - self.start).total_seconds() / 60

    def reading(
        self,
        device: Device,
        taken: datetime,
        rng: random.Random,
        event_id: str,
        *,
        worn: bool = False,
        artefact: bool = False,
    ) -> Planned:
        """A reading of `device` taken at `taken`, its noise drawn from `rng` (`worn`: a sample of a
        continuous oximeter, `artefact`: inside one of its artefact episodes)."""
        minute = self.minute(taken)
        true = self.body.true_at(minute)
        values = measure(device, true, self.biases, rng, worn=worn, artefact=artefact)
        injected, usual = self.injected, self.patient.usual
        evidence = injected is not None and injected.is_evidence_reading(device, minute, true, usual)
        event = vitals_event(self.patient, self.session_id, taken, device, values, event_id, worn=worn)
        return Planned(
            taken + latency(rng, WORN_LATENCY if worn else SPOT_LATENCY, spot=not worn), event, evidence
        )


def latency(rng: random.Random, seconds: tuple[float, float], *, spot: bool = False) -> timedelta:
    """From an event's time to its arrival; a spot reading may wait for the app to sync."""
    late = rng.random() < STORE_AND_FORWARD_SHARE
    delay = rng.uniform(*seconds)
    return timedelta(seconds=rng.uniform(*STORE_AND_FORWARD) if spot and late else delay)


def _headache(pump: PumpPlan, rng: random.Random) -> Report | None:
    has, during = rng.random() < HEADACHE_SHARE, rng.random() < HEADACHE_DURING_SHARE
    score = float(rng.randint(*HEADACHE_SCORE))
    during_at = rng.uniform(min(60.0, pump.stop / 2), pump.stop)
    after_at = pump.stop + rng.uniform(*HEADACHE_AFTER_MINUTES)
    return (
        Report(during_at if during else after_at, SymptomName.HEADACHE, SymptomSeverity.MILD, score)
        if has
        else None
    )


def plan_session(index: int, seed: int, serious_share: float) -> SessionPlan:
    """Session `index` of the cohort drawn with `seed`; a share `serious_share` of the sessions has
    a serious event."""
    rng, serious_rng = session_rng(seed, index), session_rng(seed, index, "serious")
    patient = draw_patient(f"co-{index + 1:05d}", rng)
    biases = draw_biases(rng)
    pump = pump_plan(patient)
    injected = draw_injected(patient, pump, serious_rng) if serious_rng.random() < serious_share else None
    if injected is not None and (injected.stop_at is not None or injected.revert_at is not None):
        pump = revise(pump, patient, stop_at=injected.stop_at, revert_at=injected.revert_at)
    spots = take_sets(care_sets(pump, patient.has_post_set), rng, worn_oximeter=patient.continuous_oximeter)
    headache = _headache(pump, rng)
    reports = sorted(
        [*(injected.reports if injected else ()), *([headache] if headache else [])], key=lambda r: r.minute
    )
    extra = sorted(injected.readings) if injected else []
    first = spots[0].minute if spots else -30.0
    last = max([pump.stop + 60, *(r.minute for r in reports), *(m for m, _ in extra)]) + 30
    body = Body(
        patient.usual,
        draw_drift(session_rng(seed, index, "drift"), first - 5, last),
        injected.courses if injected else (),
    )
    start = BASE_START + index * SESSION_SPACING
    plan = SessionPlan(
        index,
        seed,
        patient,
        f"co-{index + 1:05d}-s1",
        start,
        pump,
        injected,
        body,
        biases,
        headache is not None,
    )
    events = [Planned(start - PROFILE_LEAD, profile_event(patient, start - PROFILE_LEAD))]
    for n, (minute, action, rate) in enumerate(pump.events(), start=1):
        event = infusion_event(patient, plan.session_id, plan.at(minute), action, rate, n)
        events.append(Planned(plan.at(minute) + latency(rng, PUMP_LATENCY), event))
    readings = sorted([*((s.minute, s.device) for s in spots), *extra])
    events += [
        plan.reading(d, plan.at(m), rng, f"{plan.session_id}-{d}-{n:04d}")
        for n, (m, d) in enumerate(readings, 1)
    ]
    if patient.continuous_oximeter:
        end = max([s.minute for s in spots if s.reason in (SetReason.END, SetReason.POST)] or [pump.stop])
        windows = artefact_windows(rng, first, end + WORN_AFTER_END)
        for n, minute in enumerate(worn_samples(first, end + WORN_AFTER_END), start=1):
            artefact = any(a <= minute < b for a, b in windows)
            event_id = f"{plan.session_id}-worn-{n:05d}"
            events.append(
                plan.reading("oximeter", plan.at(minute), rng, event_id, worn=True, artefact=artefact)
            )
    for n, report in enumerate(reports, start=1):
        evidence = injected is not None and injected.reports_are_evidence and report in injected.reports
        symptom = symptom_event(patient, plan.session_id, plan.at(report.minute), report, n)
        events.append(Planned(plan.at(report.minute) + latency(rng, APP_LATENCY), symptom, evidence))
    ordered = sorted(enumerate(events), key=lambda item: (item[1].arrival, item[0]))
    return SessionPlan(
        index,
        seed,
        patient,
        plan.session_id,
        start,
        pump,
        injected,
        body,
        biases,
        headache is not None,
        tuple(p for _, p in ordered),
    )
