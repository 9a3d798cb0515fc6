"""One infusion session as stored in InfluxDB, read back for analysts (reports, FHIR, timelines).

`load_session` queries each measurement of the session; the result is plain data (no I/O), so
reports and exports are pure functions of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.rules.session import apply_infusion
from models.events import VITAL_NAMES, Infusion, InfusionAction
from models.state import Reading, SessionState
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.line_protocol import ALERTS, INFUSION, PROFILES, SYMPTOMS, VITALS

PSEUDONYM = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")
"""The contract's pseudonymous id pattern; it also keeps ids safe inside an InfluxQL string. Check with
`fullmatch`: `$` would let a trailing newline through ("pt-1\\n")."""


class SessionNotFound(LookupError):
    """No reading or pump event of this session is stored."""


@dataclass(frozen=True, slots=True)
class VitalsRow:
    ts: datetime
    values: dict[str, float]
    on_oxygen: bool = False
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class PumpRow:
    ts: datetime
    action: str
    rate_ml_per_h: float | None = None
    product: str | None = None
    dose_g: float | None = None


@dataclass(frozen=True, slots=True)
class SymptomRow:
    ts: datetime
    symptom: str
    severity: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class AlertRow:
    ts: datetime
    alert_id: str
    condition: str
    severity: str
    status: str
    escalation_level: int
    title: str
    summary: str
    phase: str
    rule_id: str
    by: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """Everything stored about one session, each list in time order."""

    session_id: str
    patient_id: str
    vitals: list[VitalsRow] = field(default_factory=list)
    pump: list[PumpRow] = field(default_factory=list)
    symptoms: list[SymptomRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> datetime | None:
        return next((p.ts for p in self.pump if p.action == "start"), None)

    @property
    def stop(self) -> datetime | None:
        return next((p.ts for p in self.pump if p.action == "stop"), None)

    @property
    def product(self) -> str | None:
        return next((p.product for p in self.pump if p.product), None)

    def rate_steps(self) -> list[tuple[datetime, float]]:
        """(time, mL/h) at the start and at every rate change."""
        return [(p.ts, p.rate_ml_per_h) for p in self.pump if p.rate_ml_per_h is not None]


def rule_session(record: SessionRecord) -> SessionState:
    """The session as the rule engine holds it, rebuilt with the engine's own functions (so a report's
    baseline and a timeline's phases are the ones the rules used)."""
    first = min([v.ts for v in record.vitals] + [p.ts for p in record.pump], default=datetime.now(UTC))
    state = SessionState(
        session_id=record.session_id,
        first_ts=first,
        readings=[Reading(ts=v.ts, values=dict(v.values), on_oxygen=v.on_oxygen) for v in record.vitals],
    )
    for p in record.pump:
        apply_infusion(
            state,
            Infusion(
                type="infusion",
                patient_id=record.patient_id,
                session_id=record.session_id,
                ts=p.ts,
                action=InfusionAction(p.action),
                rate_ml_per_h=p.rate_ml_per_h,
                product=p.product,
            ),
        )
    return state


def check_id(value: str, what: str = "session id") -> str:
    """A pseudonymous id, or ValueError: it is put into InfluxQL as a string literal."""
    if not PSEUDONYM.fullmatch(value):
        raise ValueError(f"not a valid {what}: use letters, digits, '.', '_' or '-' (at most 64)")
    return value


def _rows(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in series:
        columns = s["columns"]
        rows.extend(dict(zip(columns, values, strict=True)) for values in s["values"])
    return rows


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def _select(client: InfluxClient, measurement: str, where: str) -> list[dict[str, Any]]:
    # ids are checked against PSEUDONYM before they reach `where`
    return _rows(await client.query(f'SELECT * FROM "{measurement}" WHERE {where} ORDER BY time'))  # noqa: S608


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def sessions_started(client: InfluxClient, since: datetime, until: datetime | None = None) -> list[str]:
    """Ids of the sessions whose infusion started in [since, until) (no end: up to now), in start order."""
    where = f"\"action\" = 'start' AND time >= '{_rfc3339(since)}'"
    if until is not None:
        where += f" AND time < '{_rfc3339(until)}'"
    # the times are formatted here, never taken from input as text
    series = await client.query(
        f'SELECT first("count") FROM "{INFUSION}" WHERE {where} GROUP BY "session_id"'  # noqa: S608
    )
    firsts = [(s["values"][0][0], s["tags"]["session_id"]) for s in series if s.get("tags") and s["values"]]
    return [session_id for _, session_id in sorted(firsts)]


async def load_session(client: InfluxClient, session_id: str) -> SessionRecord:
    """Read one session's readings, pump events, symptoms, alerts and the patient's profile."""
    where = f"session_id = '{check_id(session_id)}'"
    vitals_rows = await _select(client, VITALS, where)
    pump_rows = await _select(client, INFUSION, where)
    if not vitals_rows and not pump_rows:
        raise SessionNotFound(f"no session {session_id!r} in InfluxDB database {client.db!r}")
    patient_id = (vitals_rows or pump_rows)[0]["patient_id"]
    profiles = await _select(client, PROFILES, f"patient_id = '{check_id(patient_id, 'patient id')}'")
    return SessionRecord(
        session_id=session_id,
        patient_id=patient_id,
        vitals=[
            VitalsRow(
                ts=_ts(r["time"]),
                values={n: float(r[n]) for n in VITAL_NAMES if r.get(n) is not None},
                on_oxygen=bool(r.get("on_oxygen")),
                device_id=r.get("device_id"),
            )
            for r in vitals_rows
        ],
        pump=[
            PumpRow(
                ts=_ts(r["time"]),
                action=r["action"],
                rate_ml_per_h=_float(r.get("rate_ml_per_h")),
                product=r.get("product"),
                dose_g=_float(r.get("dose_g")),
            )
            for r in pump_rows
        ],
        symptoms=[
            SymptomRow(_ts(r["time"]), r["symptom"], r["severity"], _float(r.get("score")))
            for r in await _select(client, SYMPTOMS, where)
        ],
        alerts=[
            AlertRow(
                ts=_ts(r["time"]),
                alert_id=r["alert_id"],
                condition=r["condition"],
                severity=r["severity"],
                status=r["status"],
                escalation_level=int(r.get("escalation_level") or 0),
                title=r.get("title") or "",
                summary=r.get("summary") or "",
                phase=r.get("phase") or "",
                rule_id=r.get("rule_id") or "",
                by=r.get("by"),
            )
            for r in await _select(client, ALERTS, where)
        ],
        profile=_profile_in_force(profiles, max(r["time"] for r in vitals_rows + pump_rows)),
    )


def _profile_in_force(profiles: list[dict[str, Any]], until_ms: int) -> dict[str, Any]:
    """The latest profile sent before the session's last reading or pump event (latest wins)."""
    before = [p for p in profiles if p["time"] <= until_ms] or profiles[:1]
    return {k: v for k, v in before[-1].items() if v is not None} if before else {}
