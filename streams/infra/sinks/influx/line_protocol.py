"""Contract objects as InfluxDB points: pseudonymous ids as tags, event time in milliseconds.

A rewrite of the same message gives the same measurement, tag set and timestamp, so InfluxDB
overwrites the point instead of adding one: writes are idempotent. `line_for` is the writer's
encoding of one Kafka message (`encode` gives the message with it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from influxdb_client import Point, WritePrecision

from models.alerts import Alert
from models.events import (
    Checkin,
    Event,
    Infusion,
    MessageSeen,
    NurseAction,
    Profile,
    Readiness,
    Symptom,
    Vitals,
)
from models.parsing import InvalidMessage, key_problem, parse_action, parse_event, time_problem
from streams.infra.kafka.topics import ACTIONS_TOPIC, ALERTS_TOPIC, EVENTS_TOPIC

PRECISION = WritePrecision.MS
VITALS, SYMPTOMS, INFUSION, PROFILES, ALERTS, ACTIONS, CHECKINS, READINESS, MESSAGES_SEEN = (
    "vitals",
    "symptoms",
    "infusion_events",
    "profiles",
    "alerts",
    "nurse_actions",
    "checkins",
    "readiness",
    "messages_seen",
)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(ts: datetime) -> int:
    """Milliseconds since the epoch, exactly (the client library's float conversion truncates some
    times to the millisecond before: 43.322 s was stored as 43.321 s)."""
    return (ts - EPOCH) // timedelta(milliseconds=1)


def _point(measurement: str, patient_id: str, session_id: str | None) -> Point:
    point = Point(measurement).tag("patient_id", patient_id)
    if session_id:
        point.tag("session_id", session_id)
    return point


def event_point(event: Event) -> Point:
    """One point per event, in the measurement of its type."""
    if isinstance(event, Vitals):
        point = _point(VITALS, event.patient_id, event.session_id)
        if event.device_id:
            point.tag("device_id", event.device_id)
        for name, value in event.values().items():
            point.field(name, float(value))
        point.field("on_oxygen", event.on_oxygen)
    elif isinstance(event, Symptom):
        point = _point(SYMPTOMS, event.patient_id, event.session_id)
        point.tag("symptom", event.symptom.value).tag("severity", event.severity.value)
        point.field("reported", 1)
        if event.score is not None:
            point.field("score", float(event.score))
        if event.note:
            point.field("note", event.note)
    elif isinstance(event, Infusion):
        point = _point(INFUSION, event.patient_id, event.session_id).tag("action", event.action.value)
        if event.product:
            point.tag("product", event.product)
        point.field("count", 1)
        if event.rate_ml_per_h is not None:
            point.field("rate_ml_per_h", float(event.rate_ml_per_h))
        if event.dose_g is not None:
            point.field("dose_g", float(event.dose_g))
        if event.lot:
            point.field("lot", event.lot)
    elif isinstance(event, Checkin):
        point = _checkin_point(event)
    elif isinstance(event, MessageSeen):
        point = _point(MESSAGES_SEEN, event.patient_id, event.session_id).field(
            "message_id", event.message_id
        )
        if event.incident_id:
            point.field("incident_id", event.incident_id)
    elif isinstance(event, Readiness):
        point = _point(READINESS, event.patient_id, event.session_id)
        for name in READINESS_ANSWERS:
            if (answer := getattr(event, name)) is not None:
                point.field(name, answer)
        if event.temperature_c is not None:
            point.field("temperature_c", float(event.temperature_c))
    else:
        point = _profile_point(event)
    if event.event_id:
        point.field("event_id", event.event_id)
    return point.time(epoch_ms(event.ts), PRECISION)


READINESS_ANSWERS = (
    "feeling_unwell",
    "feverish",
    "premedication_taken",
    "well_hydrated",
    "epinephrine_at_hand",
)


def _checkin_point(event: Checkin) -> Point:
    """One point per answered check-in: the symptoms named (`name:severity`, comma-separated; empty
    for "none of these") and the values answered."""
    point = _point(CHECKINS, event.patient_id, event.session_id).field("answered", 1)
    point.field("symptoms", ",".join(f"{a.symptom.value}:{a.severity.value}" for a in event.symptoms))
    if event.checkin_id:
        point.field("checkin_id", event.checkin_id)
    for name in ("temperature_c", "weight_kg"):
        if (value := getattr(event, name)) is not None:
            point.field(name, float(value))
    return point


def _profile_point(event: Profile) -> Point:
    point = _point(PROFILES, event.patient_id, event.session_id)
    point.field("risk_factors", ",".join(sorted(r.value for r in event.risk_factors)))
    if event.weight_kg is not None:
        point.field("weight_kg", float(event.weight_kg))
    if event.usual_product:
        point.field("usual_product", event.usual_product)
    if event.epinephrine_available is not None:
        point.field("epinephrine_available", event.epinephrine_available)
    if event.myasthenia_gravis is not None:
        point.field("myasthenia_gravis", event.myasthenia_gravis)
    return point


def alert_point(alert: Alert) -> Point:
    point = (
        _point(ALERTS, alert.patient_id, alert.session_id)
        .tag("condition", alert.condition.value)
        .tag("severity", alert.severity.value)
        .tag("status", alert.status.value)
        .field("alert_id", alert.alert_id)
        .field("escalation_level", alert.escalation_level)
        .field("title", alert.title)
        .field("summary", alert.evidence.summary)
        .field("phase", alert.evidence.phase)
        .field("rule_id", alert.rule.id)
        .field("rule_version", alert.rule.version)
        .field("page", alert.page)
    )
    evidence = alert.evidence
    for name in ("rate_ml_per_h", "previous_rate_ml_per_h", "minutes_since_rate_step"):
        if (value := getattr(evidence, name)) is not None:
            point.field(name, float(value))  # the rate context beside the alert, without a join
    if alert.by:
        point.field("by", alert.by)
    if alert.incident_id:
        point.field("incident_id", alert.incident_id)
    for name in ("owner", "notify", "action_taken"):  # contract v2: who owns it, who was paged, what was done
        if value := getattr(alert, name):
            point.field(name, value)
    if alert.outcome is not None:
        point.field("outcome", alert.outcome.value)
    return point.time(epoch_ms(alert.ts), PRECISION)


def action_point(action: NurseAction) -> Point:
    point = (
        _point(ACTIONS, action.patient_id, None)
        .tag("type", action.type)
        .field("alert_id", action.alert_id)
        .field("by", action.by)
    )
    if action.note:
        point.field("note", action.note)
    for name in ("to", "action_taken"):  # contract v2: a handover's new owner; what a resolution did
        if value := getattr(action, name):
            point.field(name, value)
    if action.outcome is not None:
        point.field("outcome", action.outcome.value)
    setting = action.limit or action.snooze  # (v2) a limit or snooze: what it sets is in alert_id
    if setting is not None:
        if setting.reason:
            point.field("reason", setting.reason)
        if setting.until is not None:
            point.field("until", setting.until.isoformat().replace("+00:00", "Z"))
        if action.limit is not None and action.limit.value is not None:
            point.field("value", float(action.limit.value))
        point.field("clear", setting.clear)
    return point.time(epoch_ms(action.ts), PRECISION)


def to_line(point: Point) -> str:
    line: str = point.to_line_protocol()
    return line


def line_for(
    topic: str,
    raw: bytes,
    key: bytes | None,
    arrival: datetime | None = None,
    max_skew: timedelta | None = None,
) -> str | None:
    """The line-protocol line of one message, or None for a message that breaks the contract
    (the rule worker dead-letters those, a wrong message key included, and, given `arrival` and
    `max_skew`, one timed too far ahead of its arrival; the writer only skips them, so InfluxDB
    never holds a reading the rules did not see)."""
    encoded = encode(topic, raw, key, arrival, max_skew)
    return None if encoded is None else encoded[0]


def encode(
    topic: str,
    raw: bytes,
    key: bytes | None,
    arrival: datetime | None = None,
    max_skew: timedelta | None = None,
) -> tuple[str, Event | Alert | NurseAction] | None:
    """`line_for`'s line with the message it encodes (the writer's rollups take the vitals)."""
    try:
        if topic == EVENTS_TOPIC:
            event = parse_event(raw)
            refused = key_problem(key, event.patient_id) or _ahead(event.ts, arrival, max_skew)
            return None if refused else (to_line(event_point(event)), event)
        if topic == ALERTS_TOPIC:
            alert = Alert.model_validate_json(raw)
            return to_line(alert_point(alert)), alert
        if topic == ACTIONS_TOPIC:
            action = parse_action(raw)
            refused = key_problem(key, action.patient_id) or _ahead(action.ts, arrival, max_skew)
            return None if refused else (to_line(action_point(action)), action)
    except (InvalidMessage, ValueError):
        return None
    return None


def _ahead(ts: datetime, arrival: datetime | None, max_skew: timedelta | None) -> list[str]:
    return [] if arrival is None or max_skew is None else time_problem(ts, arrival, max_skew)
