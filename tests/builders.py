"""Test helpers: build an infusion timeline in minutes from start, and run it through replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.rules.loader import load_rules
from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity
from models.patient_messages import PatientMessage
from models.ruleset import RuleSet
from streams.apps.replay import LineError, replay

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Timeline:
    """Events of one patient's session, each placed `minutes` after the infusion start time."""

    def __init__(self, patient: str = "pt-1", session: str = "s1", start: datetime = START) -> None:
        self.patient, self.session, self.start = patient, session, start
        self.items: list[dict[str, Any]] = []

    def ts(self, minutes: float) -> str:
        return (self.start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    def _add(self, minutes: float, **fields: Any) -> Timeline:
        item = {"patient_id": self.patient, "ts": self.ts(minutes), **fields}
        if fields["type"] in ("vitals", "symptom", "infusion", "checkin", "readiness", "message_seen"):
            item["session_id"] = self.session
        self.items.append(item)
        return self

    def vitals(self, minutes: float, **values: Any) -> Timeline:
        return self._add(minutes, type="vitals", **values)

    def baseline(self, minutes: float = -10, **overrides: Any) -> Timeline:
        values = {
            "heart_rate": 72,
            "systolic_bp": 122,
            "diastolic_bp": 78,
            "temperature_c": 36.8,
            "spo2": 98,
            "respiratory_rate": 14,
            **overrides,
        }
        return self.vitals(minutes, **values)

    def symptom(self, minutes: float, name: str, severity: str = "moderate", **extra: Any) -> Timeline:
        return self._add(minutes, type="symptom", symptom=name, severity=severity, **extra)

    def infusion(self, minutes: float, action: str, rate: float | None = None, **extra: Any) -> Timeline:
        if rate is not None:
            extra["rate_ml_per_h"] = rate
        return self._add(minutes, type="infusion", action=action, **extra)

    def start_infusion(self, rate: float = 50) -> Timeline:
        return self.infusion(0, "start", rate, product="Privigen")

    def checkin(self, minutes: float, *symptoms: tuple[str, str], **values: Any) -> Timeline:
        """A check-in answered: (symptom, severity) pairs, and temperature_c / weight_kg if given."""
        answers = [{"symptom": name, "severity": grade} for name, grade in symptoms]
        return self._add(minutes, type="checkin", symptoms=answers, **values)

    def readiness(self, minutes: float, **answers: Any) -> Timeline:
        """The readiness check before a start: all good unless `answers` say otherwise."""
        fields = {"feeling_unwell": False, "feverish": False, "well_hydrated": True, **answers}
        return self._add(minutes, type="readiness", **fields)

    def profile(self, minutes: float = -60, **fields: Any) -> Timeline:
        return self._add(minutes, type="profile", **fields)

    def nurse(
        self,
        minutes: float,
        kind: str,
        alert_id: str,
        by: str = "rn-1",
        note: str | None = None,
        **extra: Any,
    ) -> Timeline:
        """A nurse action; `extra`: a handover's `to`, a resolution's `outcome` and `action_taken`."""
        return self._add(minutes, type=kind, alert_id=alert_id, by=by, note=note, **extra)

    def limit(
        self, minutes: float, vital: str, side: str, value: float, hours: float = 8, **more: Any
    ) -> Timeline:
        """A nurse's limit for the patient (v2), in force for `hours` from `minutes`."""
        setting = {"vital": vital, "side": side, "value": value, "until": self.ts(minutes + hours * 60)}
        return self._add(minutes, type="limit", by="rn-1", limit={"reason": "usual value", **setting, **more})

    def snooze(self, minutes: float, condition: str, hours: float = 4, **more: Any) -> Timeline:
        """A nurse's snooze of a condition for the patient (v2), for `hours` from `minutes`."""
        setting = {"condition": condition, "until": self.ts(minutes + hours * 60), "reason": "known"}
        return self._add(minutes, type="snooze", by="rn-1", snooze={**setting, **more})

    def lines(self) -> list[str]:
        return [json.dumps(item) for item in self.items]


def run(
    *timelines: Timeline, until_minutes: float | None = None, rules: RuleSet | None = None
) -> list[Alert]:
    """Replay the timelines merged in time order; fail on any line the contract refuses."""
    lines = sorted((line for t in timelines for line in t.lines()), key=lambda line: json.loads(line)["ts"])
    until = START + timedelta(minutes=until_minutes) if until_minutes is not None else None
    out: list[Alert] = []
    for item in replay(lines, rules or load_rules(), until=until):
        assert not isinstance(item, LineError), item
        out.append(item)
    return out


def of(alerts: list[Alert], condition: str) -> list[Alert]:
    return [a for a in alerts if a.condition.value == condition]


def confirmed(alerts: list[Alert]) -> list[Alert]:
    """The messages without the pending ones (a lone reading waiting for its repeat): what a nurse
    is asked to act on, and every later update."""
    return [a for a in alerts if not a.pending]


def summary(alerts: list[Alert]) -> list[tuple[str, str, str]]:
    """(condition, status, severity) per message, for compact assertions."""
    return [(a.condition.value, a.status.value, a.severity.value) for a in alerts]


NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def alert_message(
    status: str = "firing", severity: str = "urgent", level: int = 0, ts: datetime = NOW, **more: Any
) -> Alert:
    """An alert message; it pages (unless `page=` says) as the engine's do: firing or escalated at
    warning or higher."""
    more.setdefault(
        "page", status in ("firing", "escalated") and Severity(severity).rank >= Severity.WARNING.rank
    )
    return Alert(
        alert_id="pt-1-s1:fever:1",
        patient_id="pt-1",
        session_id="pt-1-s1",
        status=AlertStatus(status),
        severity=Severity(severity),
        condition=Condition.FEVER,
        ts=ts,
        escalation_level=level,
        title="Fever 38.6 C after a rate increase",
        evidence=Evidence(summary="temperature 38.6 >= 38", phase="infusing", values={"temperature_c": 38.6}),
        action="Slow the infusion to the previous rate and call the patient",
        rule=RuleRef(id="fever.febrile_reaction", version="1.1.0"),
        **more,
    )


def run_with_patient(
    *timelines: Timeline, until_minutes: float | None = None, rules: RuleSet | None = None
) -> list[Alert | PatientMessage]:
    """As `run`, each alert message followed by the patient messages it causes (`ivig.patient.v1`)."""
    lines = sorted((line for t in timelines for line in t.lines()), key=lambda line: json.loads(line)["ts"])
    until = START + timedelta(minutes=until_minutes) if until_minutes is not None else None
    out: list[Alert | PatientMessage] = []
    for item in replay(lines, rules or load_rules(), until=until, patient_messages=True):
        assert not isinstance(item, LineError), item
        out.append(item)
    return out
