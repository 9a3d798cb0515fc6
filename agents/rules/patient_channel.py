"""The patient channel (`ivig.patient.v1`): what one evaluation's alert messages tell the patient.

Called once with the messages of each `process` or `advance` (live, replay and the cohort alike):
- a lone reading waiting for its repeat (a pending finding) asks the patient to measure again;
- a set of the care schedule falling due (the pending overdue reminder) asks for the set;
- an urgent or critical finding that pages into an incident shows the incident so it cannot be
  missed: the rule file's instructions for its condition (medication, pump, emergency services)
  when the finding is corroborated or confirmed, else "a nurse is calling you"; the nurse's
  acknowledgement of such an incident then sends the instructions (nurse-confirmed).
These messages follow the alert messages they come from and never replace them.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.rules.incidents import incident_by_id
from agents.rules.lifecycle import open_alert
from agents.rules.outbox import take
from models.alerts import Alert, AlertStatus, Condition, RuleRef, Severity
from models.patient_messages import PatientMessage, PatientMessageKind
from models.ruleset import RuleSet
from models.state import PatientState

RULE_ID = "patient"
WORDS = {
    "systolic_bp": "blood pressure",
    "diastolic_bp": "blood pressure",
    "heart_rate": "pulse",
    "spo2": "oxygen level",
    "temperature_c": "temperature",
    "respiratory_rate": "breathing rate",
    "weight_kg": "weight",
}
"""The vitals as the patient was taught to name them."""
REMINDERS = frozenset({Condition.STALE_DATA})
"""Pending findings that stand for a set that is due (not a reading to repeat)."""


def to_patient(state: PatientState, messages: Sequence[Alert], rules: RuleSet) -> list[PatientMessage]:
    """The patient messages of one evaluation: those the rules put in the outbox (check-ins,
    readiness), then those of the alert messages, in their order."""
    out: list[PatientMessage] = take(state)
    remeasure: dict[str, None] = {}
    first_pending: Alert | None = None
    for message in messages:
        if message.condition is Condition.INCIDENT:
            if (instructed := _acknowledged(state, message, rules)) is not None:
                out.append(instructed)
            continue
        if message.pending and message.status is AlertStatus.FIRING:
            if message.condition in REMINDERS:
                due = rules.baseline.expected_vitals
                out.append(_ask(message, PatientMessageKind.VITALS_DUE, due, rules))
            elif message.rule.id in rules.threshold_ids:  # a composite's pending waits on these
                remeasure.update(dict.fromkeys(v for v in message.evidence.values if v in WORDS))
                first_pending = first_pending or message
            continue
        if _pages_an_incident(message) and (shown := _incident(state, message, rules)) is not None:
            out.append(shown)
    if remeasure and first_pending is not None:  # one request per evaluation, for every vital asked
        out.append(_ask(first_pending, PatientMessageKind.MEASURE_AGAIN, tuple(remeasure), rules))
    return out


def _pages_an_incident(message: Alert) -> bool:
    return (
        message.page
        and message.status is AlertStatus.FIRING
        and message.incident_id is not None
        and message.severity.rank >= Severity.URGENT.rank
    )


def _ask(message: Alert, kind: PatientMessageKind, vitals: Sequence[str], rules: RuleSet) -> PatientMessage:
    words = ", ".join(dict.fromkeys(WORDS.get(v, v) for v in vitals))
    words_of = rules.patient
    template = words_of.vitals_due if kind is PatientMessageKind.VITALS_DUE else words_of.measure_again
    return _message(message, kind, template.format(vitals=words), rules, vitals=list(vitals))


def _incident(state: PatientState, message: Alert, rules: RuleSet) -> PatientMessage | None:
    """The incident a finding pages into, as the patient sees it."""
    incident = incident_by_id(state, message.incident_id)
    current = open_alert(state, message.alert_id)
    instructions = rules.patient.instructions_for(message.condition)
    if instructions is not None and current is not None and not current.unconfirmed:
        if incident is not None:
            incident.owed = None
        return _message(message, PatientMessageKind.INCIDENT, instructions, rules, instructions=True)
    if incident is not None and instructions is not None:
        incident.owed = message.condition
    return _message(message, PatientMessageKind.INCIDENT, rules.patient.nurse_calling, rules)


def _acknowledged(state: PatientState, message: Alert, rules: RuleSet) -> PatientMessage | None:
    """A nurse acknowledged an incident whose patient was told only that a nurse is calling (its
    finding paged unconfirmed): the nurse has confirmed it, so its instructions go now."""
    if message.status is not AlertStatus.ACKNOWLEDGED:
        return None
    incident = incident_by_id(state, message.alert_id)
    if incident is None or incident.owed is None:
        return None
    instructions = rules.patient.instructions_for(incident.owed)
    incident.owed = None
    if instructions is None:
        return None
    return _message(message, PatientMessageKind.INCIDENT, instructions, rules, instructions=True)


def _message(
    source: Alert,
    kind: PatientMessageKind,
    text: str,
    rules: RuleSet,
    *,
    vitals: list[str] | None = None,
    instructions: bool = False,
) -> PatientMessage:
    return PatientMessage(
        message_id=f"{source.alert_id}:{kind.value}:{source.ts.strftime('%Y%m%dT%H%M%S%f')}",
        patient_id=source.patient_id,
        session_id=source.session_id,
        kind=kind,
        ts=source.ts,
        text=text,
        vitals=vitals or [],
        severity=source.severity if kind is PatientMessageKind.INCIDENT else None,
        instructions=instructions,
        alert_id=source.alert_id,
        incident_id=source.incident_id,
        rule=RuleRef(id=RULE_ID, version=rules.version),
    )
