"""The contract events of a simulated session: the profile, pump events, readings and reports."""

from __future__ import annotations

from datetime import datetime

from models.events import Infusion, InfusionAction, Profile, Symptom, Vitals
from streams.apps.cohort.population import Patient
from streams.apps.cohort.serious_events import Report
from streams.apps.scenarios import Device


def profile_event(patient: Patient, ts: datetime) -> Profile:
    """The care team's profile (epinephrine is at home for every patient: no kit, no infusion)."""
    return Profile(
        type="profile",
        patient_id=patient.patient_id,
        ts=ts,
        event_id=f"{patient.patient_id}-profile",
        device_id="care-team",
        weight_kg=patient.weight_kg,
        risk_factors=list(patient.risk_factors),
        usual_product=patient.usual_product,
        epinephrine_available=True,
        myasthenia_gravis=patient.diagnosis == "myasthenia_gravis",
    )


def infusion_event(
    patient: Patient, session_id: str, ts: datetime, action: InfusionAction, rate: float | None, n: int
) -> Infusion:
    is_start = action is InfusionAction.START
    return Infusion(
        type="infusion",
        patient_id=patient.patient_id,
        session_id=session_id,
        ts=ts,
        event_id=f"{session_id}-pump-{n:03d}",
        device_id=f"pump-{patient.patient_id}",
        action=action,
        rate_ml_per_h=rate,
        product=patient.product if is_start else None,
        dose_g=patient.dose_g if is_start else None,
    )


def vitals_event(
    patient: Patient,
    session_id: str,
    ts: datetime,
    device: Device,
    values: dict[str, float],
    event_id: str,
    *,
    worn: bool = False,
) -> Vitals:
    return Vitals(
        type="vitals",
        patient_id=patient.patient_id,
        session_id=session_id,
        ts=ts,
        event_id=event_id,
        device_id=f"{device}-{patient.patient_id}",
        mode="continuous" if worn else "spot",
        **values,
    )


def symptom_event(patient: Patient, session_id: str, ts: datetime, report: Report, n: int) -> Symptom:
    return Symptom(
        type="symptom",
        patient_id=patient.patient_id,
        session_id=session_id,
        ts=ts,
        event_id=f"{session_id}-app-{n:03d}",
        symptom=report.symptom,
        severity=report.severity,
        score=report.score,
    )
