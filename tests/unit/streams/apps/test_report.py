"""Session and cohort reports without InfluxDB: the thresholds drawn come from the rule file, the
baseline is the rule engine's, alert colours follow severity, and the PNG has its fixed size."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from typer.testing import CliRunner

from agents.rules.loader import DEFAULT_RULES_FILE, load_rules, parse_rules
from models.events import VITAL_NAMES
from streams.apps import report
from streams.apps.cli.main import app
from streams.apps.replay import LineError, replay
from streams.apps.sessions import AlertRow, PumpRow, SessionRecord, SymptomRow, VitalsRow
from streams.infra.settings import get_settings
from tests.builders import START, Timeline

RULES = load_rules()


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def record_of(timeline: Timeline, until_minutes: float | None = None) -> SessionRecord:
    """What load_session would read back after `ivigwatch import` of the timeline (one session)."""
    lines = timeline.lines()
    items: list[dict[str, Any]] = sorted((json.loads(line) for line in lines), key=lambda e: e["ts"])
    until = START + timedelta(minutes=until_minutes) if until_minutes is not None else None
    alerts = [a for a in replay(lines, RULES, until=until) if not isinstance(a, LineError)]
    of = {kind: [e for e in items if e["type"] == kind] for kind in ("vitals", "infusion", "symptom")}
    return SessionRecord(
        session_id=timeline.session,
        patient_id=timeline.patient,
        vitals=[
            VitalsRow(_ts(e["ts"]), {n: float(e[n]) for n in VITAL_NAMES if n in e}) for e in of["vitals"]
        ],
        pump=[
            PumpRow(_ts(e["ts"]), e["action"], e.get("rate_ml_per_h"), e.get("product"))
            for e in of["infusion"]
        ],
        symptoms=[SymptomRow(_ts(e["ts"]), e["symptom"], e["severity"]) for e in of["symptom"]],
        alerts=[
            AlertRow(
                a.ts,
                a.alert_id,
                a.condition.value,
                a.severity.value,
                a.status.value,
                a.escalation_level,
                a.title,
                a.evidence.summary,
                a.evidence.phase,
                a.rule.id,
            )
            for a in alerts
        ],
    )


def fever_after_rate_step() -> Timeline:
    """Baseline before the start, a rate step at 30 min, fever at 50 min, hives and wheezing later."""
    t = Timeline().baseline(-20).baseline(-10, temperature_c=37.0).start_infusion(rate=60)
    t.infusion(30, "rate_change", 120)
    for minute in range(5, 120, 10):
        t.vitals(
            minute, heart_rate=80 + minute // 10, spo2=97, temperature_c=36.9 + (1.4 if minute > 45 else 0)
        )
    t.symptom(70, "hives").symptom(72, "wheezing", "severe")
    return t.infusion(90, "pause").infusion(95, "resume").infusion(120, "stop")


@pytest.fixture(scope="module")
def fever() -> SessionRecord:
    return record_of(fever_after_rate_step(), until_minutes=150)


@pytest.fixture(scope="module")
def fever_png(fever: SessionRecord) -> bytes:
    return report.session_png(fever, RULES)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(imread(io.BytesIO(png), format="png"))[:, :, :3]


def assert_not_blank(rgb: np.ndarray) -> None:
    assert rgb.std() > 0.1
    non_white = (rgb < 0.95).any(axis=2).mean()
    assert non_white > 0.05, non_white


def test_threshold_lines_are_the_absolute_limits_of_the_rule_files_rows_for_each_vital() -> None:
    def lines(vital: str) -> list[tuple[float, str]]:
        return [(line.value, line.severity.value) for line in report.threshold_lines(RULES, vital)]

    assert lines("temperature_c") == [(38.0, "urgent"), (39.0, "urgent")]
    assert lines("systolic_bp") == [
        (90.0, "critical"),
        (160.0, "urgent"),
        (180.0, "urgent"),
        (220.0, "critical"),
    ]
    assert lines("diastolic_bp") == [(100.0, "urgent"), (120.0, "urgent")]
    assert lines("spo2") == [(86.0, "urgent"), (91.0, "urgent"), (93.0, "warning")]
    assert lines("heart_rate") == [(40.0, "urgent"), (50.0, "warning"), (111.0, "warning"), (131.0, "urgent")]
    assert lines("respiratory_rate") == [(8.0, "urgent"), (21.0, "warning"), (25.0, "urgent")]
    assert lines("weight_kg") == []  # the 48 h weight gain is relative only
    labels = [line.label for line in report.threshold_lines(RULES, "systolic_bp")]
    assert labels == [
        "systolic <90 critical (hypotension)",
        "systolic ≥160 urgent (hypertension)",
        "systolic ≥180 urgent (hypertension)",
        "systolic ≥220 critical (hypertension)",
    ]
    fever_38 = report.threshold_lines(RULES, "temperature_c")[0]
    assert fever_38.label == "≥38 urgent (fever)"
    # the warning rows at 38.0 (no baseline; the rise below fever) merge into the urgent line
    assert set(fever_38.rule_ids) >= {"fever.febrile_reaction", "fever.no_baseline", "temperature_rise.mild"}


def test_threshold_lines_follow_a_proposed_rule_file() -> None:
    text = DEFAULT_RULES_FILE.read_text()
    proposed = parse_rules(
        text.replace("at_least = 39.0", "at_least = 39.5").replace("at_most = 93", "at_most = 94")
    )
    assert [x.value for x in report.threshold_lines(proposed, "temperature_c")] == [38.0, 39.5]
    assert [x.value for x in report.threshold_lines(proposed, "spo2")] == [86.0, 91.0, 94.0]


def test_alert_colours_follow_severity() -> None:
    colours = {s: to_rgb(report.severity_colour(s)) for s in ("info", "warning", "urgent", "critical")}
    r, g, b = colours["info"]
    assert abs(r - g) < 0.05 and abs(g - b) < 0.05  # grey
    assert (
        colours["warning"][0] > 0.8 and colours["warning"][1] > 0.6 and colours["warning"][2] < 0.2
    )  # amber
    assert colours["urgent"][0] > 0.9 and 0.35 < colours["urgent"][1] < 0.6  # orange
    assert colours["critical"][0] > 0.8 and colours["critical"][1] < 0.25  # red
    assert len(set(colours.values())) == 4
    assert report.severity_colour("bogus") == report.UNKNOWN_COLOUR


def test_the_baseline_is_the_rule_engines() -> None:
    pre = record_of(fever_after_rate_step())
    # median of the readings in the 30 minutes before the start
    assert report.session_baseline(pre, RULES)["temperature_c"] == pytest.approx(36.9)
    assert report.session_baseline(pre, RULES)["systolic_bp"] == 122
    # no reading before the start: the readings of the first 15 minutes after it
    post = record_of(
        Timeline()
        .start_infusion()
        .vitals(5, heart_rate=70)
        .vitals(10, heart_rate=80)
        .vitals(30, heart_rate=140)
    )
    assert report.session_baseline(post, RULES) == {"heart_rate": 75}
    assert report.session_baseline(record_of(Timeline().baseline(-10)), RULES) == {}  # never started


def test_rate_segments_follow_the_pump(fever: SessionRecord) -> None:
    segments = [(s.start - START, s.rate, s.paused) for s in report.rate_segments(fever, RULES)]
    minutes = timedelta(minutes=1)
    assert segments == [
        (0 * minutes, 60, False),
        (30 * minutes, 120, False),
        (90 * minutes, 0, True),
        (95 * minutes, 120, False),
    ]
    assert report.rate_segments(fever, RULES)[-1].end == START + timedelta(minutes=120)


def test_alert_marks_label_where_an_alert_opens_or_rises(fever: SessionRecord) -> None:
    marks = report.alert_marks(fever)
    labelled = [m.label for m in marks if m.label]
    assert "fever (urgent)" in labelled and "anaphylaxis (critical)" in labelled
    assert len(labelled) == len({(m.alert_id, m.severity) for m in marks})
    assert any(m.status == "escalated" and m.label is None for m in marks)


def test_labels_share_a_row_only_when_they_do_not_overlap() -> None:
    # three labels at one time stack up; a later one goes back to the first free row
    assert report.pack_labels([0.1, 0.1, 0.12, 0.5], [0.2, 0.2, 0.2, 0.1], rows=3) == [0, 1, 2, 0]
    # more labels than rows: the row that frees up first takes the next one
    assert report.pack_labels([0.1, 0.11, 0.12], [0.3, 0.2, 0.3], rows=2) == [0, 1, 1]


def test_the_session_png_has_its_fixed_size_and_is_not_blank(fever: SessionRecord, fever_png: bytes) -> None:
    # heart rate, blood pressure, temperature, SpO2, respiratory rate: 5 panels and the infusion panel
    titles = ["Heart rate", "Blood pressure", "Temperature", "SpO2", "Respiratory rate"]
    assert [p.title for p in report.panels_for(fever)] == titles
    assert report.session_size_px(fever) == (1600, 1800)
    assert fever_png.startswith(b"\x89PNG")
    rgb = pixels(fever_png)
    assert rgb.shape == (1800, 1600, 3)
    assert_not_blank(rgb)
    # the critical anaphylaxis alert is drawn in red, the urgent fever in orange
    for severity in ("critical", "urgent"):
        target = np.array(to_rgb(report.severity_colour(severity)))
        assert (np.abs(rgb - target).max(axis=2) < 0.02).sum() > 50, severity


def test_a_session_with_only_some_vitals_gets_only_their_panels() -> None:
    t = Timeline().vitals(-5, spo2=97).start_infusion().vitals(20, spo2=92).infusion(60, "stop")
    record = record_of(t)
    assert [p.title for p in report.panels_for(record)] == ["SpO2"]
    rgb = pixels(report.session_png(record, RULES))
    assert rgb.shape == (600, 1600, 3)
    assert_not_blank(rgb)


def test_the_session_page_embeds_the_png_and_loads_nothing(fever: SessionRecord, fever_png: bytes) -> None:
    page = report.session_html(fever, RULES, fever_png)
    assert 'src="data:image/png;base64,' in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "anaphylaxis" in page and "hives" in page and "Baseline (the rule engine's): heart rate 72" in page


def test_cohort_rows_count_alerts_by_their_highest_severity(fever: SessionRecord) -> None:
    row = report.cohort_row(fever)
    assert row.max_rate == 120 and row.rate_increases == 1 and row.symptoms == 2
    assert row.duration_hours == 2
    assert row.worst_reaction == "critical"
    by_alert: dict[str, str] = {}
    for a in fever.alerts:
        if a.condition == "incident":
            continue  # an incident is no alert of its own in the figure: its members are
        by_alert[a.alert_id] = max(by_alert.get(a.alert_id, a.severity), a.severity, key=report.severity_rank)
    assert sum(row.alerts_by_severity.values()) == len(by_alert)
    assert row.alerts_by_severity["critical"] == list(by_alert.values()).count("critical")
    fever_onset = next(o for o in row.onsets if o.condition == "fever")
    assert fever_onset.minutes_after_rate_increase == pytest.approx(25)  # fever at 55 min, step at 30


def test_a_monitoring_alert_is_not_a_reaction() -> None:
    t = Timeline().start_infusion().infusion(60, "stop")  # no vitals at all: baseline missing, stale data
    row = report.cohort_row(record_of(t, until_minutes=60))
    assert row.onsets and {o.condition for o in row.onsets} <= report.OPERATIONAL
    assert row.worst_reaction is None


def test_the_cohort_png_has_its_fixed_size_and_the_page_a_row_per_session(fever: SessionRecord) -> None:
    quiet = record_of(
        Timeline(patient="pt-2", session="s2").baseline(-10).start_infusion().infusion(90, "stop")
    )
    rows = [report.cohort_row(fever), report.cohort_row(quiet)]
    since = datetime(2026, 11, 24, tzinfo=UTC)
    png = report.cohort_png(rows, RULES, since, None)
    assert report.cohort_size_px() == (1600, 1200)
    rgb = pixels(png)
    assert rgb.shape == (1200, 1600, 3)
    assert_not_blank(rgb)
    page = report.cohort_html(rows, RULES, since, None, png)
    assert page.count("<tr><td>") == 2 and "s2" in page and 'src="data:image/png;base64,' in page
    assert "https://" not in page


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a SESSION id, or --cohort --since TS"),
        (["s1", "--cohort", "--since", "2026-03-01"], "give a SESSION id, or --cohort --since TS"),
        (["--cohort"], "--cohort needs --since TS"),
        (["s1", "--since", "2026-03-01"], "--since and --until go with --cohort"),
        (["--cohort", "--since", "yesterday"], "--since: not an RFC 3339 time"),
        (["x' OR 1=1"], "not a valid session id"),
    ],
)
def test_report_refuses_bad_arguments(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_report_with_influxdb_unreachable_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("IVIGWATCH_INFLUX_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    try:
        for args in (["s1"], ["--cohort", "--since", "2026-03-01T00:00:00Z"]):
            result = runner.invoke(app, ["report", *args, "--out", str(tmp_path)])
            assert result.exit_code == 1
            assert (
                result.stderr.count("\n") == 1
                and "InfluxDB unreachable at http://127.0.0.1:9" in result.stderr
            )
    finally:
        get_settings.cache_clear()
    assert not list(tmp_path.iterdir())
