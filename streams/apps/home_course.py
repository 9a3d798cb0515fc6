"""A simulated patient's course at home through the gateway only, as their devices and app do it
(the demo's patient at home): the app's readiness check, the hub's and the pump's uploads, a
reported symptom whose instruction comes back to the app (which reports it was seen), then the
check-ins of the days after, the day-2 one answered with the signs of aseptic meningitis.

Every step goes over HTTP with the patient's own credentials (device, pump, app); what comes back
is read as the app reads it (`GET /v1/messages`, a long poll). The infusion day is paced at the
demo's speed; the days after are a time lapse, each step waiting for what it needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import aiohttp

from agents.rules.checkins import due_checkins
from agents.rules.engine import new_state, process
from models.credentials import CredentialKind
from models.events import NurseAction
from models.parsing import parse_replay_line
from models.ruleset import RuleSet
from models.state import PatientState

JsonDict = dict[str, Any]
RETRY_STATUSES = frozenset({429, 503})
WAIT_SECONDS = 60.0
"""How long the app waits for a message the rules must send (a check-in, an instruction)."""

INFUSION_DAY: tuple[tuple[float, str, JsonDict], ...] = (
    (0, "pump", {"type": "infusion", "action": "start", "rate_ml_per_h": 60, "product": "Privigen"}),
    (14, "device", {"type": "vitals", "heart_rate": 76, "systolic_bp": 124, "diastolic_bp": 79, "spo2": 98}),
    (30, "pump", {"type": "infusion", "action": "rate_change", "rate_ml_per_h": 120}),
    (36, "device", {"type": "vitals", "heart_rate": 78, "systolic_bp": 122, "diastolic_bp": 78, "spo2": 98}),
    (60, "pump", {"type": "infusion", "action": "rate_change", "rate_ml_per_h": 180}),
    (66, "device", {"type": "vitals", "heart_rate": 80, "systolic_bp": 126, "diastolic_bp": 80, "spo2": 97}),
    (72, "app", {"type": "symptom", "symptom": "chills", "severity": "moderate"}),
    (73, "device", {"type": "vitals", "temperature_c": 38.7, "heart_rate": 108, "spo2": 97}),
)
"""Event-time minutes after the start: a febrile reaction 13 minutes after the second rate
increase (chills, then 38.7 C with 108/min); the rules send the patient the fever instruction."""

AFTER_REACTION: tuple[tuple[float, str, JsonDict], ...] = (
    (76, "pump", {"type": "infusion", "action": "pause"}),
    (
        95,
        "device",
        {"type": "vitals", "temperature_c": 37.8, "heart_rate": 92, "systolic_bp": 124, "spo2": 98},
    ),
    (105, "pump", {"type": "infusion", "action": "resume", "rate_ml_per_h": 60}),
    (
        118,
        "device",
        {"type": "vitals", "temperature_c": 37.3, "heart_rate": 84, "systolic_bp": 122, "spo2": 98},
    ),
    (
        165,
        "device",
        {"type": "vitals", "temperature_c": 37.0, "heart_rate": 78, "systolic_bp": 121, "spo2": 98},
    ),
    (175, "pump", {"type": "infusion", "action": "stop"}),
    (
        205,
        "device",
        {"type": "vitals", "temperature_c": 36.9, "heart_rate": 76, "systolic_bp": 122, "spo2": 98},
    ),
)
STOP_MINUTE = 175.0
BASELINE: JsonDict = {
    "type": "vitals",
    "heart_rate": 74,
    "systolic_bp": 123,
    "diastolic_bp": 78,
    "temperature_c": 36.8,
    "spo2": 98,
    "respiratory_rate": 14,
}


class CourseError(RuntimeError):
    """The course could not go on: the gateway refused a step, or a message never came."""


@dataclass
class CourseLog:
    """What the course saw come back, for the demo's summary and checks."""

    readiness: str | None = None
    instruction: str | None = None
    checkins_answered: list[str] = field(default_factory=list)
    meningitis_instruction: str | None = None
    requests: int = 0


@dataclass
class HomePatient:
    """One patient's credentials at the gateway, and the app's view of its messages."""

    url: str
    patient_id: str
    session_id: str
    tokens: dict[CredentialKind, str]
    http: aiohttp.ClientSession
    log: CourseLog = field(default_factory=CourseLog)
    cursor: int = 0
    epoch: str = ""
    serial: int = 0
    unread: list[JsonDict] = field(default_factory=list)

    async def send(self, kind: CredentialKind, event: JsonDict, at: datetime) -> None:
        """One event, as the device (or app) of `kind` posts it, retried while the gateway asks to."""
        self.serial += 1
        body = {**event, "ts": at.isoformat().replace("+00:00", "Z"), "event_id": f"home-{self.serial}"}
        if event["type"] in ("infusion", "vitals", "checkin"):
            body.setdefault("session_id", self.session_id)
        headers = {"Authorization": f"Bearer {self.tokens[kind]}"}
        for attempt in range(20):
            self.log.requests += 1
            async with self.http.post(f"{self.url}/v1/events", json=[body], headers=headers) as response:
                if response.status == 200:
                    return
                if response.status not in RETRY_STATUSES:
                    problem = await response.text()
                    raise CourseError(
                        f"the gateway refused a {event['type']} event ({response.status}): {problem}"
                    )
                retry = float(response.headers.get("Retry-After", "1"))
            await asyncio.sleep(min(retry, 1.0 + attempt))
        raise CourseError("the gateway kept asking to retry")

    async def message(self, wanted: Callable[[JsonDict], bool], what: str) -> JsonDict:
        """The app's next message that `wanted` accepts; the others it read stay to be asked for."""
        deadline = time.monotonic() + WAIT_SECONDS
        headers = {"Authorization": f"Bearer {self.tokens[CredentialKind.APP]}"}
        while True:
            for n, item in enumerate(self.unread):
                if wanted(item):
                    del self.unread[n]
                    return item
            if time.monotonic() >= deadline:
                raise CourseError(f"the app never received {what} within {WAIT_SECONDS:g} s")
            query = f"after={self.cursor}&epoch={self.epoch}&wait=10"
            self.log.requests += 1
            async with self.http.get(f"{self.url}/v1/messages?{query}", headers=headers) as response:
                if response.status in RETRY_STATUSES:
                    await asyncio.sleep(1.0)
                    continue
                if response.status != 200:
                    raise CourseError(f"the app could not read its messages ({response.status})")
                body = await response.json()
            self.cursor, self.epoch = body["next"], body["epoch"]
            self.unread.extend(dict(item["message"]) for item in body["messages"])


async def infusion_day(
    patient: HomePatient, start: datetime, speed: float, say: Callable[[str], None]
) -> None:
    """Readiness, baseline, the paced infusion, the febrile reaction and its instruction, the stop."""
    app = CredentialKind.APP
    readiness = {  # no session: the app does not know the id of the infusion about to start
        "type": "readiness",
        "feeling_unwell": False,
        "feverish": False,
        "well_hydrated": True,
        "premedication_taken": True,
        "epinephrine_at_hand": True,
    }
    await patient.send(app, readiness, start - timedelta(minutes=20))
    answer = await patient.message(lambda m: m["kind"] == "readiness", "the readiness answer")
    patient.log.readiness = answer["text"]
    say(f"app, readiness check: {answer['text']}")
    await patient.send(CredentialKind.DEVICE, BASELINE, start - timedelta(minutes=10))
    began = time.monotonic()

    async def paced(steps: tuple[tuple[float, str, JsonDict], ...]) -> None:
        for minute, kind, event in steps:
            due = began + (minute + 10) * 60 / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await patient.send(CredentialKind(kind), event, start + timedelta(minutes=minute))

    await paced(INFUSION_DAY)
    say("app: reported chills; the hub uploaded 38.7 C, 108/min")
    shown = await patient.message(lambda m: m["kind"] == "incident" and m["instructions"], "an instruction")
    patient.log.instruction = shown["text"]
    say(f"app, shown full screen: {shown['text']}")
    seen = {"type": "message_seen", "message_id": shown["message_id"], "incident_id": shown["incident_id"]}
    seen["session_id"] = patient.session_id
    await patient.send(app, seen, start + timedelta(minutes=74))
    await paced(AFTER_REACTION)


async def answer_checkin(
    patient: HomePatient, day: int, answers: JsonDict, at: datetime, say: Callable[[str], None]
) -> None:
    """The app receives the day's check-in and answers it 20 minutes later."""
    asked = await patient.message(
        lambda m: m["kind"] == "checkin" and not m["reminder"] and m["checkin_day"] == day,
        f"the day-{day} check-in",
    )
    body = {
        "type": "checkin",
        "session_id": asked["session_id"],
        "checkin_id": asked["checkin_id"],
        **answers,
    }
    await patient.send(CredentialKind.APP, body, at)
    patient.log.checkins_answered.append(str(asked["checkin_id"]))
    named = (
        ", ".join(f"{s['symptom']} ({s['severity']})" for s in answers.get("symptoms", [])) or "none of these"
    )
    say(f"app, day-{day} check-in answered: {named}")


DAY_2_ANSWERS: JsonDict = {
    "symptoms": [
        {"symptom": "headache", "severity": "severe"},
        {"symptom": "neck_stiffness", "severity": "moderate"},
    ],
    "temperature_c": 37.6,
}
"""The signs of aseptic meningitis (clinical reference Part B 5: hours to 2 days after)."""


def simulated_answers(
    events: list[JsonDict],
    rules: RuleSet,
    days: tuple[int, ...],
    skip: frozenset[tuple[str, int]] = frozenset(),
) -> list[JsonDict]:
    """'None of these' answers, 20 minutes after each check-in of `days` that the rules will ask the
    simulated patients of `events` (found by running them through the rule engine), except the
    (patient, day) pairs of `skip`: a patient who leaves that check-in unanswered."""
    states: dict[str, PatientState] = {}
    for raw in sorted(events, key=lambda e: str(e["ts"])):
        item = parse_replay_line(json.dumps(raw))
        if isinstance(item, NurseAction):
            continue
        state = states.setdefault(item.patient_id, new_state(item.patient_id))
        process(state, item, item.ts, rules)
    answers = []
    for patient_id, state in states.items():
        for session in state.sessions.values():
            for due in due_checkins(state, session, rules):
                if due.day in days and (patient_id, due.day) not in skip:
                    at = due.due + timedelta(minutes=20)
                    answers.append(
                        {
                            "type": "checkin",
                            "patient_id": patient_id,
                            "session_id": session.session_id,
                            "ts": at.isoformat().replace("+00:00", "Z"),
                            "event_id": f"{due.checkin_id}:answer",
                            "checkin_id": due.checkin_id,
                            "symptoms": [],
                        }
                    )
    return sorted(answers, key=lambda a: str(a["ts"]))


async def days_after(
    patient: HomePatient,
    start: datetime,
    others: list[JsonDict],
    send_other: Callable[[JsonDict], Awaitable[None]],
    say: Callable[[str], None],
) -> None:
    """The check-ins of days 1 and 2 as a time lapse, in event-time order for everyone: each
    morning the hub uploads a weight; the app answers its check-in; the other simulated patients'
    answers go in between at their own times. On day 2 the answers bring the meningitis instruction."""
    stop = start + timedelta(minutes=STOP_MINUTE)
    steps: list[tuple[datetime, Callable[[], Awaitable[None]]]] = []
    for day in (1, 2):
        due = stop + timedelta(hours=24 * day)
        weight = {"type": "vitals", "weight_kg": 71.2 + 0.1 * day}
        steps.append(
            (
                due + timedelta(minutes=1),
                partial(patient.send, CredentialKind.DEVICE, weight, due + timedelta(minutes=1)),
            )
        )
        answers = DAY_2_ANSWERS if day == 2 else {"symptoms": []}
        steps.append(
            (
                due + timedelta(minutes=20),
                partial(answer_checkin, patient, day, answers, due + timedelta(minutes=20), say),
            )
        )
    for other in others:
        at = datetime.fromisoformat(str(other["ts"]).replace("Z", "+00:00"))
        steps.append((at, partial(send_other, other)))
    steps.sort(key=lambda s: s[0])
    for _, step in steps:
        await step()
    shown = await patient.message(
        lambda m: m["kind"] == "incident" and m["severity"] in ("urgent", "critical"), "the day-2 instruction"
    )
    patient.log.meningitis_instruction = shown["text"]
    say(f"app, shown full screen: {shown['text']}")
