"""The analysts' pure analyses on hand-made rows: percentiles, rate bands, reaction rates, alert
periods and severities, time to acknowledge, phases, and the read-only InfluxQL guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.rules.loader import load_rules
from agents.rules.session import effective_stop, phase_at
from streams.apps import analyses
from streams.apps.sessions import AlertRow, PumpRow, SessionRecord, SymptomRow, VitalsRow, rule_session

T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
RULES = load_rules()


def ms(minutes: float) -> int:
    return analyses.epoch_ms(T0 + timedelta(minutes=minutes))


def pump(session: str, minutes: float, action: str, rate: float | None = None, **tags: Any) -> dict[str, Any]:
    return {"time": ms(minutes), "session_id": session, "action": action, "rate_ml_per_h": rate, **tags}


def alert(alert_id: str, minutes: float, status: str, severity: str) -> dict[str, Any]:
    condition = alert_id.split(":")[1]
    return {
        "time": ms(minutes),
        "alert_id": alert_id,
        "condition": condition,
        "status": status,
        "severity": severity,
    }


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([], 50, None),
        ([7.0], 50, 7.0),
        ([7.0], 90, 7.0),
        ([4.0, 2.0], 50, 2.0),  # even count: the lower middle value
        ([4.0, 2.0], 90, 4.0),
        ([10.0, 2.0, 4.0], 50, 4.0),
        ([10.0, 2.0, 4.0], 90, 10.0),
        ([float(v) for v in range(1, 11)], 90, 9.0),  # rank ceil(9.0) = 9
        ([float(v) for v in range(1, 12)], 90, 10.0),  # rank ceil(9.9) = 10
        ([3.0, 1.0], 0, 1.0),
        ([3.0, 1.0], 100, 3.0),
    ],
)
def test_nearest_rank(values: list[float], percent: float, expected: float | None) -> None:
    assert analyses.nearest_rank(values, percent) == expected


@pytest.mark.parametrize(
    ("rate", "band"),
    [
        (None, "unknown"),
        (0, "<100"),
        (99.9, "<100"),
        (100, "100-199"),
        (199.99, "100-199"),
        (200, "200-299"),
        (299, "200-299"),
        (300, ">=300"),
        (800, ">=300"),
    ],
)
def test_rate_bands_are_by_the_highest_rate_in_ml_per_hour(rate: float | None, band: str) -> None:
    assert analyses.rate_band(rate) == band


def test_reaction_rate_per_product_band_and_both() -> None:
    pump_rows = [
        pump("s1", 0, "start", 60, product="Privigen"),
        pump("s1", 30, "rate_change", 240),
        pump("s1", 60, "rate_change", 120),  # down again: the band is of the highest rate
        pump("s2", 0, "start", 50, product="Privigen"),
        pump("s3", 0, "start", 300, product="Octagam"),
        pump("s4", 0, "start", 80),  # no product
        pump("s5", 0, "rate_change", 90),  # no start: not a session here
        pump("s6", -60 * 24, "start", 80, product="Privigen"),  # before the period
    ]
    alert_rows = [
        {"session_id": "s1", "condition": "anaphylaxis"},
        {"session_id": "s1", "condition": "infusion_reaction"},  # the same session counts once
        {"session_id": "s2", "condition": "fever"},  # not a reaction
        {"session_id": "s3", "condition": "respiratory_compromise"},
        {"session_id": "s5", "condition": "anaphylaxis"},
        {"session_id": "s6", "condition": "anaphylaxis"},
    ]
    table = analyses.reactions(pump_rows, alert_rows, since=T0 - timedelta(hours=1))
    assert table.columns == ("by", "group", "sessions", "reacting", "rate")
    assert table.rows == [
        ("product", "Octagam", 1, 1, 1.0),
        ("product", "Privigen", 2, 1, 0.5),
        ("product", "unknown", 1, 0, 0.0),
        ("rate band", "<100", 2, 0, 0.0),
        ("rate band", "200-299", 1, 1, 1.0),
        ("rate band", ">=300", 1, 1, 1.0),
        ("product x rate band", "Octagam, >=300", 1, 1, 1.0),
        ("product x rate band", "Privigen, <100", 1, 0, 0.0),
        ("product x rate band", "Privigen, 200-299", 1, 1, 1.0),
        ("product x rate band", "unknown, <100", 1, 0, 0.0),
        ("all", "all sessions", 4, 2, 0.5),
    ]
    everything = analyses.reactions(pump_rows, alert_rows).records()
    assert everything[-1] == {"by": "all", "group": "all sessions", "sessions": 5, "reacting": 3, "rate": 0.6}


def test_a_third_is_rounded_to_four_places() -> None:
    rows = [pump(f"s{i}", i, "start", 50, product="P") for i in range(3)]
    table = analyses.reactions(rows, [{"session_id": "s0", "condition": "anaphylaxis"}])
    assert table.rows[0] == ("product", "P", 3, 1, 0.3333)


def test_no_sessions_give_no_rows() -> None:
    assert analyses.reactions([], []).rows == []


ALERTS = [
    # warning at 0, raised to critical at 30 (a firing message), acknowledged at 35
    alert("s1:fever:1", 0, "firing", "warning"),
    alert("s1:fever:1", 30, "firing", "critical"),
    alert("s1:fever:1", 35, "acknowledged", "critical"),
    # urgent, escalated, acknowledged at 20, acknowledged again (a resend) at 40
    alert("s1:hypotension:1", 5, "firing", "urgent"),
    alert("s1:hypotension:1", 20, "escalated", "urgent"),
    alert("s1:hypotension:1", 25, "acknowledged", "urgent"),
    alert("s1:hypotension:1", 40, "acknowledged", "urgent"),
    # acknowledged as a warning after 6 min, then raised to critical (firing again), acked again
    alert("s2:infusion_reaction:1", 0, "firing", "warning"),
    alert("s2:infusion_reaction:1", 6, "acknowledged", "warning"),
    alert("s2:infusion_reaction:1", 50, "firing", "critical"),
    alert("s2:infusion_reaction:1", 52, "acknowledged", "critical"),
    # never acknowledged; resolved by itself
    alert("s2:tachycardia:1", 10, "firing", "warning"),
    alert("s2:tachycardia:1", 40, "resolved", "warning"),
    # fired again after its resolution: a new alert
    alert("s2:tachycardia:2", 70, "firing", "warning"),
    # first fired the day before: not in a period starting at T0, even though it rose after T0
    alert("s0:fever:1", -24 * 60, "firing", "warning"),
    alert("s0:fever:1", 5, "firing", "urgent"),
    alert("s0:fever:1", 8, "acknowledged", "urgent"),
    # messages without a firing (a partial import): ignored
    alert("s9:fever:1", 8, "acknowledged", "urgent"),
]


def test_alerts_count_each_alert_once_in_the_period_of_its_first_firing() -> None:
    table = analyses.alert_counts(ALERTS, since=T0, until=T0 + timedelta(hours=2))
    assert table.rows == [
        ("fever", "critical", 1),
        ("hypotension", "urgent", 1),
        ("infusion_reaction", "critical", 1),
        ("tachycardia", "warning", 2),
    ]
    assert analyses.alert_counts(ALERTS, until=T0 + timedelta(minutes=45)).rows == [
        ("fever", "critical", 1),  # s1's, highest reached (at 30)
        ("fever", "urgent", 1),  # s0's
        ("hypotension", "urgent", 1),
        ("infusion_reaction", "critical", 1),  # its rise at 50, after --until, counts: the highest
        ("tachycardia", "warning", 1),  # the re-fire at 70 is after --until: not counted
    ]


def test_time_to_acknowledge_per_severity_when_acknowledged() -> None:
    table = analyses.ack_times(ALERTS, since=T0)
    assert table.columns == ("severity", "acknowledged", "never_acknowledged", "median_min", "p90_min")
    assert table.rows == [
        ("critical", 1, 0, 35.0, 35.0),  # s1 fever: first firing 0 -> first ack 35, critical by then
        ("urgent", 1, 0, 20.0, 20.0),  # the first acknowledgement counts, not the resend
        ("warning", 1, 2, 6.0, 6.0),  # acked as a warning (it rose later); two tachycardia never
    ]


def test_time_to_acknowledge_median_and_p90() -> None:
    rows = []
    for n, delay in enumerate([2, 4, 10, 3.5]):
        rows += [
            alert(f"s{n}:fever:1", 0, "firing", "urgent"),
            alert(f"s{n}:fever:1", delay, "acknowledged", "urgent"),
        ]
    assert analyses.ack_times(rows).rows == [("urgent", 4, 0, 3.5, 10.0)]
    assert analyses.ack_times(rows[:6]).rows == [("urgent", 3, 0, 4.0, 10.0)]


def record(pump_rows: list[PumpRow], **more: Any) -> SessionRecord:
    return SessionRecord(session_id="s1", patient_id="pt-1", pump=pump_rows, **more)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_phases_follow_the_pump_history_as_the_rules_do() -> None:
    stopped = record([PumpRow(at(0), "start", 50), PumpRow(at(60), "stop"), PumpRow(at(70), "stop")])
    session = rule_session(stopped)
    assert session.stop_ts == at(60)  # a repeated stop keeps the first
    phases = [phase_at(session, at(m), RULES).value for m in (-1, 0, 59, 60, 6 * 60 + 59, 6 * 60 + 60)]
    assert phases == ["pre", "infusing", "infusing", "post-early", "post-early", "post-late"]
    assert phase_at(session, at(60 + 11 * 24 * 60), RULES).value == "after"
    reopened = record(
        [PumpRow(at(0), "start", 50), PumpRow(at(60), "stop"), PumpRow(at(90), "rate_change", 80)]
    )
    assert effective_stop(rule_session(reopened), RULES) == at(90) + timedelta(
        hours=RULES.timing.session_timeout_hours
    )


def test_timeline_is_in_time_order_with_pump_first_at_equal_times() -> None:
    rec = record(
        [PumpRow(at(0), "start", 60, product="Privigen", dose_g=30), PumpRow(at(30), "rate_change", 120)],
        vitals=[
            VitalsRow(at(-10), {"heart_rate": 72, "spo2": 98}),
            VitalsRow(at(30), {"temperature_c": 38.4}, True),
        ],
        symptoms=[SymptomRow(at(30), "chills", "severe", 7)],
        alerts=[
            AlertRow(at(30), "s1:fever:1", "fever", "urgent", "firing", 0, "Fever", "", "infusing", "fever.x")
        ],
    )
    assert analyses.timeline(rec, RULES).records() == [
        {
            "time": "2026-11-02T09:50:00Z",
            "phase": "pre",
            "kind": "vitals",
            "event": "reading",
            "rate_ml_per_h": None,
            "product": None,
            "severity": None,
            "detail": "heart_rate=72 spo2=98",
        },
        {
            "time": "2026-11-02T10:00:00Z",
            "phase": "infusing",
            "kind": "pump",
            "event": "start",
            "rate_ml_per_h": 60,
            "product": "Privigen",
            "severity": None,
            "detail": "dose 30 g",
        },
        {
            "time": "2026-11-02T10:30:00Z",
            "phase": "infusing",
            "kind": "pump",
            "event": "rate_change",
            "rate_ml_per_h": 120,
            "product": None,
            "severity": None,
            "detail": "",
        },
        {
            "time": "2026-11-02T10:30:00Z",
            "phase": "infusing",
            "kind": "vitals",
            "event": "reading",
            "rate_ml_per_h": None,
            "product": None,
            "severity": None,
            "detail": "temperature_c=38.4 on_oxygen",
        },
        {
            "time": "2026-11-02T10:30:00Z",
            "phase": "infusing",
            "kind": "symptom",
            "event": "chills",
            "rate_ml_per_h": None,
            "product": None,
            "severity": "severe",
            "detail": "score 7",
        },
        {
            "time": "2026-11-02T10:30:00Z",
            "phase": "infusing",
            "kind": "alert",
            "event": "fever firing",
            "rate_ml_per_h": None,
            "product": None,
            "severity": "urgent",
            "detail": "Fever",
        },
    ]


def test_rfc3339_and_epoch_ms() -> None:
    assert analyses.rfc3339(T0) == "2026-11-02T10:00:00Z"
    assert analyses.rfc3339(analyses.epoch_ms(T0) + 250) == "2026-11-02T10:00:00.250Z"
    assert analyses.in_period(ms(0), T0, T0 + timedelta(minutes=1))
    assert not analyses.in_period(ms(1), T0, T0 + timedelta(minutes=1))  # until is exclusive


@pytest.mark.parametrize(
    "statement",
    [
        'SELECT * FROM "vitals"',
        "  select mean(spo2) from vitals where time > now() - 1d group by time(1h);  ",
        "SHOW DATABASES",
        "show measurements",
        "SELECT * FROM alerts WHERE title = 'Fever during the infusion'",
    ],
)
def test_read_only_statements_pass(statement: str) -> None:
    assert analyses.read_only_statement(statement) == statement.strip().rstrip(";").rstrip()


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ('DROP DATABASE "ivigwatch"', "only SELECT and SHOW"),
        ("DELETE FROM vitals", "only SELECT and SHOW"),
        ("CREATE RETENTION POLICY x ON y DURATION 1d REPLICATION 1", "only SELECT and SHOW"),
        ("SELECTX FROM vitals", "only SELECT and SHOW"),
        ("-- a comment\nSELECT * FROM vitals", "only SELECT and SHOW"),
        ("SELECT * INTO copy FROM vitals", "INTO"),
        ('SELECT * INTO "db"."rp"."m" FROM vitals GROUP BY *', "INTO"),
        ("SHOW DATABASES; DROP DATABASE ivigwatch", "one statement"),
        ("SELECT * FROM /'/ ; DROP DATABASE x; SELECT * FROM /'/", "one statement"),  # quote in a regex
        ("SELECT * FROM vitals WHERE note = 'a;b'", "one statement"),  # refused, on purpose
        ("", "only SELECT and SHOW"),
    ],
)
def test_statements_that_could_write_are_refused(statement: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        analyses.read_only_statement(statement)


def test_series_become_one_table_with_tags_and_rfc3339_times() -> None:
    series = [
        {
            "name": "vitals",
            "tags": {"device_id": "cuff-1"},
            "columns": ["time", "mean"],
            "values": [[ms(0), 120.5]],
        },
        {
            "name": "vitals",
            "tags": {"device_id": "ox-1"},
            "columns": ["time", "mean"],
            "values": [[ms(5), None]],
        },
    ]
    table = analyses.series_table(series)
    assert table.columns == ("series", "device_id", "time", "mean")
    assert table.rows == [
        ("vitals", "cuff-1", "2026-11-02T10:00:00Z", 120.5),
        ("vitals", "ox-1", "2026-11-02T10:05:00Z", None),
    ]
    show = analyses.series_table(
        [{"name": "databases", "columns": ["name"], "values": [["_internal"], ["ivigwatch"]]}]
    )
    assert show.records() == [
        {"series": "databases", "name": "_internal"},
        {"series": "databases", "name": "ivigwatch"},
    ]
    assert analyses.series_table([]).rows == []
    assert analyses.rows_of(series)[0] == {"device_id": "cuff-1", "time": ms(0), "mean": 120.5}
