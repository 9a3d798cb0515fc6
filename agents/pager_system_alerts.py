"""The pager bridge's own alerts (pure): `oncall_gap` and `page_undelivered`, sent on the alerts topic
when a page went to the roster's fallback contact instead of the person on call, so the console shows
it; each resolves once the alert it concerns is acknowledged or resolved, or a nurse acknowledges
or resolves it itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.alerts import Alert, AlertStatus, Condition, Evidence, RuleRef, Severity

SYSTEM_CONDITIONS = frozenset({Condition.ONCALL_GAP, Condition.PAGE_UNDELIVERED})
PHASE = "pager"
OPEN_PREFIX = "open|"
"""Key prefix, in the pager's delivered table, of the system alerts still open (value: when sent):
`open|{severity}|{session_id}|{alert_id}`."""
TITLES = {
    Condition.ONCALL_GAP: "Nobody on call for a page: it went to the fallback contact",
    Condition.PAGE_UNDELIVERED: "A page could not be delivered: it went to the fallback contact",
}


def system_alert_id(alert: Alert, condition: Condition) -> str:
    """`{alert_id of the page}:{condition}:{escalation level}`: one per page update."""
    return f"{alert.alert_id}:{condition.value}:{alert.escalation_level}"


def concerns(system_id: str, alert_id: str) -> bool:
    """True when the system alert `system_id` is about the alert `alert_id`."""
    return any(system_id.startswith(f"{alert_id}:{c.value}:") for c in SYSTEM_CONDITIONS)


def undelivered_alert(
    alert: Alert, condition: Condition, reason: str, fallback_id: str, fallback_reached: bool
) -> Alert:
    """The system alert for a page that went to the fallback (or, failing that, to the dead letters)."""
    whose = "the alert pipeline" if alert.patient_id == "-" else f"patient {alert.patient_id}"
    outcome = (
        f"the fallback contact {fallback_id} was paged instead"
        if fallback_reached
        else f"the fallback contact {fallback_id} could not be paged either (dead-lettered)"
    )
    return Alert(
        alert_id=system_alert_id(alert, condition),
        patient_id=alert.patient_id,
        session_id=alert.session_id,
        status=AlertStatus.FIRING,
        severity=alert.severity,
        condition=condition,
        ts=alert.ts,
        escalation_level=alert.escalation_level,
        title=TITLES[condition],
        evidence=Evidence(
            summary=(
                f"The {alert.severity.value} page {alert.alert_id} ({alert.status.value}, level "
                f"{alert.escalation_level}) for {whose}: {reason}; {outcome}."
            ),
            phase=PHASE,
            values={"fallback_reached": 1.0 if fallback_reached else 0.0},
        ),
        action=(
            f"Make sure someone acts on alert {alert.alert_id} now (call {whose} if in doubt). Then "
            + (
                "fix the roster: ivigwatch roster check."
                if condition is Condition.ONCALL_GAP
                else "check the person's channel and the pager bridge's log."
            )
            + " This alert resolves itself when that alert is acknowledged or resolved."
        ),
        rule=RuleRef(id=f"pager.{condition.value}", version="1"),
        page=True,
    )


@dataclass(frozen=True)
class OpenSystemAlert:
    """A system alert the pager sent and has not resolved yet (as its delivered-table key keeps it)."""

    severity: Severity
    session_id: str
    alert_id: str

    @classmethod
    def of(cls, alert: Alert) -> OpenSystemAlert:
        return cls(alert.severity, alert.session_id, alert.alert_id)

    @classmethod
    def parse(cls, key: str) -> OpenSystemAlert | None:
        """From a delivered-table key; None when the key is not an open system alert's."""
        if not key.startswith(OPEN_PREFIX):
            return None
        parts = key.removeprefix(OPEN_PREFIX).split("|", 2)
        if len(parts) != 3 or parts[0] not in {s.value for s in Severity}:
            return None
        return cls(Severity(parts[0]), parts[1], parts[2])

    @property
    def key(self) -> str:
        return f"{OPEN_PREFIX}{self.severity.value}|{self.session_id}|{self.alert_id}"

    @property
    def condition(self) -> Condition:
        return next(c for c in SYSTEM_CONDITIONS if f":{c.value}:" in self.alert_id)

    def resolved(self, patient_id: str, ts: datetime, why: str, by: str | None = None) -> Alert:
        """Its `resolved` message: `why` says what resolved it."""
        return Alert(
            alert_id=self.alert_id,
            patient_id=patient_id,
            session_id=self.session_id,
            status=AlertStatus.RESOLVED,
            severity=self.severity,
            condition=self.condition,
            ts=ts,
            escalation_level=int(self.alert_id.rpartition(":")[2]),
            title=TITLES[self.condition],
            evidence=Evidence(summary=why, phase=PHASE),
            action="Nothing more for this page. Fix the roster or the channel if not done yet.",
            rule=RuleRef(id=f"pager.{self.condition.value}", version="1"),
            by=by,
        )
