"""How people answer the rules' messages: the patient repeats a reading when asked, the nurse
acknowledges a page and later resolves the incident. Each draws from a random stream of its own
(session_plan.session_rng)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.patient_messages import PatientMessage, PatientMessageKind
from streams.apps.cohort.parameters import Parameter
from streams.apps.scenarios import Device

NEVER_REPEAT_SHARE = 0.15
REPEAT_MEDIAN_MINUTES: dict[Device, float] = {"cuff": 2.0, "oximeter": 1.0, "thermometer": 1.5}
REPEAT_SIGMA = 0.5
"""Log-normal delay from the request to the repeat reading: median per device, this sigma."""
REPEAT_AT_LEAST_MINUTES = 0.3
VITAL_DEVICE: dict[str, Device] = {
    "systolic_bp": "cuff",
    "diastolic_bp": "cuff",
    "heart_rate": "oximeter",
    "spo2": "oximeter",
    "temperature_c": "thermometer",
}
ASKS = frozenset({PatientMessageKind.MEASURE_AGAIN, PatientMessageKind.VITALS_DUE})
CHECKIN_NEVER_SHARE = 0.10
CHECKIN_MEDIAN_MINUTES = 40.0
CHECKIN_SIGMA = 1.2
"""Log-normal delay from a check-in's prompt to its answer (the rest are never answered)."""
NURSE_ACK_SHARE = 0.95
NURSE_ACK_MEDIAN_MINUTES = 4.0
NURSE_ACK_SIGMA = 0.6
NURSE_ID = "rn-cohort"
NURSE_RESOLVE_SHARE = 0.9
NURSE_RESOLVE_MEDIAN_MINUTES = 10.0
NURSE_RESOLVE_SIGMA = 0.6
"""After acknowledging an incident the nurse calls the patient and resolves it (contract v2, with
an outcome): log-normal delay from the acknowledgement; the rest are forgotten (the acknowledgement
timeout's reminder is for them)."""

PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "repeat on request",
        f"{NEVER_REPEAT_SHARE:.0%} of requests never answered; else log-normal delay, median cuff "
        f"{REPEAT_MEDIAN_MINUTES['cuff']:g} min, oximeter {REPEAT_MEDIAN_MINUTES['oximeter']:g}, "
        f"thermometer {REPEAT_MEDIAN_MINUTES['thermometer']:g}, sigma {REPEAT_SIGMA:g} "
        f"(90th percentile x{math.exp(1.2816 * REPEAT_SIGMA):.1f}), at least {REPEAT_AT_LEAST_MINUTES:g} min",
        "[assumption]; AHA 2019 home BP: repeat after 1 min",
    ),
    Parameter(
        "check-in answers",
        f"{CHECKIN_NEVER_SHARE:.0%} of check-ins never answered; else log-normal delay from the prompt, "
        f"median {CHECKIN_MEDIAN_MINUTES:g} min, sigma {CHECKIN_SIGMA:g} (90th percentile "
        f"{CHECKIN_MEDIAN_MINUTES * math.exp(1.2816 * CHECKIN_SIGMA):.0f} min); an answer names the "
        "serious event's signs present then",
        "[assumption]: home-monitoring apps' daily questionnaires are answered on about 85-90 % of days",
    ),
    Parameter(
        "nurse",
        f"acknowledges {NURSE_ACK_SHARE:.0%} of pages after a log-normal delay, median "
        f"{NURSE_ACK_MEDIAN_MINUTES:g} min, sigma {NURSE_ACK_SIGMA:g} (90th percentile "
        f"{NURSE_ACK_MEDIAN_MINUTES * math.exp(1.2816 * NURSE_ACK_SIGMA):.1f} min); the rest never",
        "[assumption]; Bonafide et al. 2015: median 10.4 min to respond at the bedside",
    ),
    Parameter(
        "nurse resolves",
        f"{NURSE_RESOLVE_SHARE:.0%} of acknowledged incidents resolved after a log-normal delay from the "
        f"acknowledgement, median {NURSE_RESOLVE_MEDIAN_MINUTES:g} min, sigma {NURSE_RESOLVE_SIGMA:g} "
        f"(90th percentile {NURSE_RESOLVE_MEDIAN_MINUTES * math.exp(1.2816 * NURSE_RESOLVE_SIGMA):.1f} min; "
        "outcome needed_action in sessions with a serious event, else not_needed); the rest forgotten",
        "[assumption]: a call-back and its note take about 10 min; issue 16: acknowledging is not resolving",
    ),
)


@dataclass(frozen=True, slots=True)
class RepeatRequest:
    """The system asks the patient to measure `vitals` again now."""

    vitals: frozenset[str]
    at: datetime


def repeat_requests(messages: Sequence[object]) -> list[RepeatRequest]:
    """The requests to the patient among one step's messages: what the patient channel
    (`ivig.patient.v1`) asks them to measure, "measure again now" and "vitals due"."""
    return [
        RepeatRequest(frozenset(message.vitals), message.ts)
        for message in messages
        if isinstance(message, PatientMessage) and message.kind in ASKS and message.vitals
    ]


def devices_for(request: RepeatRequest, *, worn_oximeter: bool) -> list[Device]:
    """The devices the patient picks up for a request (a worn oximeter repeats by itself)."""
    devices = {VITAL_DEVICE[v] for v in request.vitals if v in VITAL_DEVICE}
    if worn_oximeter:
        devices.discard("oximeter")
    return sorted(devices)


def repeat_delay(device: Device, rng: random.Random) -> timedelta | None:
    """How long the patient takes to repeat a reading of `device`, or None when they never do."""
    never = rng.random() < NEVER_REPEAT_SHARE
    minutes = REPEAT_MEDIAN_MINUTES[device] * math.exp(rng.gauss(0.0, REPEAT_SIGMA))
    return None if never else timedelta(minutes=max(REPEAT_AT_LEAST_MINUTES, minutes))


def ack_delay(rng: random.Random) -> timedelta | None:
    """How long the nurse takes to acknowledge a page, or None when nobody does."""
    acked = rng.random() < NURSE_ACK_SHARE
    minutes = NURSE_ACK_MEDIAN_MINUTES * math.exp(rng.gauss(0.0, NURSE_ACK_SIGMA))
    return timedelta(minutes=minutes) if acked else None


def resolve_delay(rng: random.Random) -> timedelta | None:
    """How long after acknowledging an incident the nurse resolves it, or None when they forget."""
    resolved = rng.random() < NURSE_RESOLVE_SHARE
    minutes = NURSE_RESOLVE_MEDIAN_MINUTES * math.exp(rng.gauss(0.0, NURSE_RESOLVE_SIGMA))
    return timedelta(minutes=minutes) if resolved else None


def checkin_delay(rng: random.Random) -> timedelta | None:
    """How long the patient takes to answer a check-in, or None when they never do."""
    never = rng.random() < CHECKIN_NEVER_SHARE
    minutes = CHECKIN_MEDIAN_MINUTES * math.exp(rng.gauss(0.0, CHECKIN_SIGMA))
    return None if never else timedelta(minutes=minutes)
