"""`ivigwatch query` on the real InfluxDB: a replayed dataset whose answers are known by hand.

Seven sessions, each imported on its own (so each replay's clock stops at its own last line);
session: product, start (UTC), pump rates in mL/h -> band of the highest; alerts, first firing -> ack:
- pt-a-d1: Privigen, 2026-11-02 10:00, 60 120 240 -> 200-299; infusion_reaction warning (never
  acked), anaphylaxis critical (acked after 2 min), respiratory_compromise urgent (after 4 min)
- pt-b-d1: Privigen, 2026-11-03 10:00, 50 90 -> <100; no alert
- pt-c-d1: Privigen, 2026-11-04 10:00, 60 150 -> 100-199; fever urgent (acked after 10 min), not
  a reaction
- pt-d-d1: Gamunex-C, 2026-11-05 10:00, 100 200 320 -> >=300; infusion_reaction warning, then
  urgent (the highest it reached), never acked (it escalates)
- pt-e-d1: Gamunex-C, 2026-11-06 10:00, 80 160 -> 100-199; no alert
- pt-f-d1: Privigen, 2026-10-20 10:00, 50 350 -> >=300; before the period: infusion_reaction,
  anaphylaxis and respiratory_compromise, never acked
- pt-g-d1: Privigen, 2026-10-31 23:30, 100 -> 100-199; infusion_reaction first fires at 23:55,
  before the period, rises to urgent at 00:05 and is acked at 00:07: not in the period

The period is [2026-11-01, 2026-11-08): sessions a-e.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from agents.rules.loader import load_rules
from deploy.processes import free_ports
from streams.apps import analyses
from streams.apps.cli.main import app
from streams.apps.cli.query_cmd import alert_rows, select
from streams.apps.influx_import import import_lines
from streams.apps.sessions import load_session
from streams.infra.settings import get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from streams.infra.sinks.influx.line_protocol import ALERTS, INFUSION
from tests.builders import Timeline
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration

DB = "ivigwatch_query_test"
SINCE, UNTIL = "2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z"
PERIOD = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))


def _session(
    name: str, start: datetime, product: str, rates: list[tuple[int, float]], vitals_to: int
) -> Timeline:
    t = Timeline(f"pt-{name}", f"pt-{name}-d1", start).baseline(-10)
    for i, (minute, rate) in enumerate(rates):
        extra = {"product": product} if i == 0 else {}
        t.infusion(minute, "start" if i == 0 else "rate_change", rate, **extra)
    for minute in range(15, vitals_to + 1, 15):
        t.baseline(minute)
    return t


def dataset() -> list[Timeline]:
    def nov(day: int, hour: int = 10, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=UTC)

    a = _session("a", nov(2), "Privigen", [(0, 60), (30, 120), (60, 240)], 75)
    a.symptom(70, "hives").symptom(72, "wheezing", "severe")
    a.nurse(74, "ack", "pt-a-d1:anaphylaxis:1").nurse(76, "ack", "pt-a-d1:respiratory_compromise:1")
    a.infusion(80, "stop")
    b = _session("b", nov(3), "Privigen", [(0, 50), (30, 90)], 120).infusion(120, "stop").baseline(130)
    c = _session("c", nov(4), "Privigen", [(0, 60), (30, 150)], 30).vitals(45, temperature_c=38.2)
    c.nurse(55, "ack", "pt-c-d1:fever:1").infusion(60, "stop")
    d = _session("d", nov(5), "Gamunex-C", [(0, 100), (20, 200), (40, 320)], 90)
    d.symptom(45, "chills").symptom(50, "headache").infusion(90, "stop")
    e = _session("e", nov(6), "Gamunex-C", [(0, 80), (30, 160)], 90).infusion(90, "stop")
    f = _session("f", datetime(2026, 10, 20, 10, tzinfo=UTC), "Privigen", [(0, 50), (30, 350)], 60)
    f.symptom(40, "hives").symptom(41, "wheezing", "severe").infusion(60, "stop")
    g = _session("g", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "Privigen", [(0, 100)], 45)
    g.symptom(25, "chills").symptom(35, "headache").nurse(37, "ack", "pt-g-d1:infusion_reaction:1")
    g.infusion(45, "stop")
    return [a, b, c, d, e, f, g]


ALERT_MESSAGES = 9 + 0 + 5 + 9 + 0 + 8 + 7
"""What replay gives each session (checked by hand with `ivigwatch replay`), incident messages
included (v2): pt-a's anaphylaxis is one incident whose acknowledgement acknowledges its three
alerts; pt-c's lone 38.2 C waits 3 minutes for a repeat, then pages as unconfirmed; pt-d's and
pt-f's incidents escalate (once per delay, no longer each alert); pt-d's and pt-g's chills (a
warning) page as their incident after the 2-minute group wait, nothing more severe having come."""

REACTIONS_IN_PERIOD = [
    ("product", "Gamunex-C", 2, 1, 0.5),
    ("product", "Privigen", 3, 1, 0.3333),
    ("rate band", "<100", 1, 0, 0.0),
    ("rate band", "100-199", 2, 0, 0.0),
    ("rate band", "200-299", 1, 1, 1.0),
    ("rate band", ">=300", 1, 1, 1.0),
    ("product x rate band", "Gamunex-C, 100-199", 1, 0, 0.0),
    ("product x rate band", "Gamunex-C, >=300", 1, 1, 1.0),
    ("product x rate band", "Privigen, <100", 1, 0, 0.0),
    ("product x rate band", "Privigen, 100-199", 1, 0, 0.0),
    ("product x rate band", "Privigen, 200-299", 1, 1, 1.0),
    ("all", "all sessions", 5, 2, 0.4),
]
ALERTS_IN_PERIOD = [
    ("anaphylaxis", "critical", 1),
    ("fever", "urgent", 1),
    ("infusion_reaction", "urgent", 1),  # pt-d: warning, then urgent (the highest it reached)
    ("infusion_reaction", "warning", 1),  # pt-a
    ("respiratory_compromise", "urgent", 1),
    ("stale_data", "info", 1),  # pt-d: a set due on the care schedule, a reminder taken in time
]
ACK_TIMES_IN_PERIOD = [
    ("critical", 1, 0, 2.0, 2.0),  # anaphylaxis acked after 2 min
    # pt-a's respiratory compromise 2 min (acknowledged with its incident), pt-c's fever 10 min;
    # nearest rank: median 2, p90 10; pt-d never
    ("urgent", 2, 1, 2.0, 10.0),
    ("warning", 1, 0, 4.0, 4.0),  # pt-a's infusion reaction, acknowledged with its incident
    ("info", 0, 1, None, None),  # pt-d's reminder of a set due
]


@pytest.fixture(scope="module")
def imported(live: Live) -> Live:
    settings = live.settings.model_copy(update={"influx_db": DB})

    async def load() -> None:
        async with InfluxClient(settings, role="admin") as client:
            await client.query(f'DROP DATABASE "{DB}"', write=True)
            await client.ensure_database()
            alerts = 0
            for timeline in dataset():
                lines = sorted(timeline.lines(), key=lambda line: json.loads(line)["ts"])  # file order
                summary = await import_lines(client, lines, load_rules())
                assert not summary.bad_lines, summary.bad_lines
                alerts += summary.alerts
            assert alerts == ALERT_MESSAGES

    asyncio.run(load())
    return live


def test_the_pure_analyses_give_the_known_answers_on_rows_read_back(imported: Live) -> None:
    settings = imported.settings.model_copy(update={"influx_db": DB})
    since, until = PERIOD

    async def fetch() -> dict[str, Any]:
        async with InfluxClient(settings, role="reader") as client:
            pump = await select(
                client, ("count", "session_id", "action", "product", "rate_ml_per_h"), INFUSION
            )
            reacted = await select(client, ("alert_id", "session_id", "condition"), ALERTS)
            return {
                "pump": pump,
                "reacted": reacted,
                "alerts": await alert_rows(client, since),
                "all_alerts": await alert_rows(client, None),
                "record": await load_session(client, "pt-c-d1"),
            }

    got = asyncio.run(fetch())
    assert analyses.reactions(got["pump"], got["reacted"], since, until).rows == REACTIONS_IN_PERIOD
    everything = analyses.reactions(got["pump"], got["reacted"]).records()
    assert {
        r["group"]: (r["sessions"], r["reacting"]) for r in everything if r["by"] != "product x rate band"
    } == {
        "Gamunex-C": (2, 1),
        "Privigen": (5, 3),
        "<100": (1, 0),
        "100-199": (3, 1),
        "200-299": (1, 1),
        ">=300": (2, 2),
        "all sessions": (7, 4),
    }
    assert analyses.alert_counts(got["alerts"], since, until).rows == ALERTS_IN_PERIOD
    assert analyses.ack_times(got["alerts"], since, until).rows == ACK_TIMES_IN_PERIOD
    # without a period pt-f and pt-g count: pt-g's acknowledgement after 12 min is urgent
    assert analyses.ack_times(got["all_alerts"]).rows == [
        ("critical", 1, 1, 2.0, 2.0),
        ("urgent", 3, 2, 10.0, 12.0),
        ("warning", 1, 1, 4.0, 4.0),  # pt-a's, acknowledged with its incident; pt-f's never
        ("info", 0, 1, None, None),  # pt-d's reminder of a set due
    ]
    rules = load_rules()
    assert [row[:7] for row in analyses.timeline(got["record"], rules).rows] == [
        ("2026-11-04T09:50:00Z", "pre", "vitals", "reading", None, None, None),
        ("2026-11-04T10:00:00Z", "infusing", "pump", "start", 60.0, "Privigen", None),
        ("2026-11-04T10:15:00Z", "infusing", "vitals", "reading", None, None, None),
        ("2026-11-04T10:30:00Z", "infusing", "pump", "rate_change", 150.0, None, None),
        ("2026-11-04T10:30:00Z", "infusing", "vitals", "reading", None, None, None),
        ("2026-11-04T10:45:00Z", "infusing", "vitals", "reading", None, None, None),
        # a lone 38.2 C: pending at 10:45, paged as unconfirmed at 10:48 (no repeat), with its incident
        ("2026-11-04T10:45:00Z", "infusing", "alert", "fever firing", None, None, "urgent"),
        ("2026-11-04T10:48:00Z", "infusing", "alert", "fever firing", None, None, "urgent"),
        ("2026-11-04T10:48:00Z", "infusing", "alert", "incident firing", None, None, "urgent"),
        ("2026-11-04T10:55:00Z", "infusing", "alert", "fever acknowledged", None, None, "urgent"),
        ("2026-11-04T10:55:00Z", "infusing", "alert", "incident acknowledged", None, None, "urgent"),
        ("2026-11-04T11:00:00Z", "post-early", "pump", "stop", None, None, None),
    ]


@pytest.fixture
def cli(imported: Live, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name, value in imported.settings.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IVIGWATCH_INFLUX_DB", DB)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_analysis_from_the_command_line(cli: CliRunner) -> None:
    period = ["--since", SINCE, "--until", UNTIL]
    reactions = cli.invoke(app, ["query", "reactions", *period, "--format", "csv"])
    assert reactions.exit_code == 0, reactions.stderr
    assert [
        (r["by"], r["group"], int(r["sessions"]), int(r["reacting"]), float(r["rate"]))
        for r in _csv(reactions.stdout)
    ] == REACTIONS_IN_PERIOD
    assert "query took" in reactions.stderr and "ms in InfluxDB" in reactions.stderr

    alerts = cli.invoke(app, ["query", "--format", "json", "alerts", *period])  # --format before the name
    assert alerts.exit_code == 0, alerts.stderr
    assert [tuple(r.values()) for r in json.loads(alerts.stdout)] == ALERTS_IN_PERIOD

    acks = cli.invoke(app, ["query", "ack-time", *period, "--format", "json"])
    assert acks.exit_code == 0, acks.stderr
    assert [tuple(r.values()) for r in json.loads(acks.stdout)] == ACK_TIMES_IN_PERIOD
    acks_csv = _csv(cli.invoke(app, ["query", "ack-time", *period, "--format", "csv"]).stdout)
    assert acks_csv[3] == {  # no acknowledgement: empty cells, not "None"
        "severity": "info",
        "acknowledged": "0",
        "never_acknowledged": "1",
        "median_min": "",
        "p90_min": "",
    }

    timeline = cli.invoke(app, ["query", "timeline", "pt-b-d1", "--format", "json"])
    assert timeline.exit_code == 0, timeline.stderr
    rows = json.loads(timeline.stdout)
    assert [r["phase"] for r in rows].count("pre") == 1 and rows[-1]["phase"] == "post-early"
    assert [(r["event"], r["rate_ml_per_h"], r["product"]) for r in rows if r["kind"] == "pump"] == [
        ("start", 50.0, "Privigen"),
        ("rate_change", 90.0, None),
        ("stop", None, None),
    ]

    table = cli.invoke(app, ["query", "alerts", *period])
    assert table.exit_code == 0, table.stderr
    assert "respiratory_compromise" in table.stdout and "query took" in table.stdout


def test_ad_hoc_influxql_is_read_only(cli: CliRunner) -> None:
    counted = cli.invoke(
        app, ["query", "--influxql", 'SELECT COUNT("alert_id") FROM "alerts"', "--format", "csv"]
    )
    assert counted.exit_code == 0, counted.stderr
    assert _csv(counted.stdout) == [
        {"series": "alerts", "time": "1970-01-01T00:00:00Z", "count": str(ALERT_MESSAGES)}
    ]
    grouped = cli.invoke(
        app,
        [
            "query",
            "--influxql",
            'SELECT COUNT("count") FROM "infusion_events" GROUP BY "product"',
            "--format",
            "json",
        ],
    )
    assert {r["product"]: r["count"] for r in json.loads(grouped.stdout)} == {
        "": 15,
        "Gamunex-C": 2,
        "Privigen": 5,
    }
    for statement in (
        f'DROP DATABASE "{DB}"',
        'SELECT * INTO "copy" FROM "vitals"',
        "SHOW DATABASES; DROP DATABASE x",
        'DELETE FROM "vitals"',
    ):
        refused = cli.invoke(app, ["query", "--influxql", statement])
        assert refused.exit_code == 2, statement
        assert refused.stderr.startswith("--influxql: ")
        assert "read-only" in refused.stderr or "one statement" in refused.stderr
    still = cli.invoke(app, ["query", "--influxql", "SHOW DATABASES", "--format", "json"])
    assert DB in [r["name"] for r in json.loads(still.stdout)]
    bad = cli.invoke(app, ["query", "--influxql", "SELECT FROM"])
    assert bad.exit_code == 2 and "InfluxQL error" in bad.stderr and "Traceback" not in bad.output


def test_clear_errors(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = cli.invoke(app, ["query", "timeline", "pt-nobody-d1"])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"no session 'pt-nobody-d1' in InfluxDB database '{DB}'"
    assert cli.invoke(app, ["query", "timeline", "x' OR 1=1"]).exit_code == 2
    bad_time = cli.invoke(app, ["query", "alerts", "--since", "2026-11-01"])
    assert bad_time.exit_code == 2 and "--since: not an RFC 3339 time with an offset" in bad_time.stderr
    backwards = cli.invoke(app, ["query", "ack-time", "--since", UNTIL, "--until", SINCE])
    assert backwards.exit_code == 2 and "--since must be before --until" in backwards.stderr

    (closed,) = free_ports(1)
    monkeypatch.setenv("IVIGWATCH_INFLUX_URL", f"http://127.0.0.1:{closed}")
    get_settings.cache_clear()
    for args in (["alerts"], ["timeline", "pt-a-d1"], ["--influxql", "SHOW DATABASES"]):
        down = cli.invoke(app, ["query", *args])
        assert down.exit_code == 1, args
        assert down.stderr.count("\n") == 1 and "Traceback" not in down.output
        assert f"http://127.0.0.1:{closed}" in down.stderr and "ivigwatch stack up" in down.stderr
        assert "IVIGWATCH_INFLUX_URL" in down.stderr


PPV_DB = "ivigwatch_ppv_test"


def ppv_dataset() -> list[Timeline]:
    """Three incidents resolved with an outcome (contract v2): pt-p's anaphylaxis (Privigen at 240
    mL/h) needed action; pt-q's lone 38.2 C (Privigen, 60 mL/h) was a thermometer artefact; pt-r's
    (Gamunex-C, 150 mL/h, its fever resolved by its alert id) needed nothing."""

    def nov(day: int) -> datetime:
        return datetime(2026, 11, day, 10, tzinfo=UTC)

    p = _session("p", nov(10), "Privigen", [(0, 60), (30, 120), (60, 240)], 75)
    p.symptom(70, "hives").symptom(72, "wheezing", "severe").nurse(74, "ack", "pt-p:incident:1")
    p.nurse(
        78, "resolve", "pt-p:incident:1", outcome="needed_action", action_taken="pump stopped, epinephrine"
    )
    q = _session("q", nov(11), "Privigen", [(0, 60)], 30).vitals(45, temperature_c=38.2)
    q.nurse(50, "ack", "pt-q:incident:1")
    q.nurse(52, "resolve", "pt-q:incident:1", outcome="artefact", action_taken="hot drink; repeat 36.9")
    r = _session("r", nov(12), "Gamunex-C", [(0, 60), (30, 150)], 30).vitals(45, temperature_c=38.2)
    r.nurse(50, "resolve", "pt-r-d1:fever:1", outcome="not_needed", action_taken="called, patient well")
    return [p, q, r]


PPV_ROWS = [  # rule, condition, by, group, resolved, needed_action, not_needed, artefact, ppv
    ("anaphylaxis.niaid_wao", "anaphylaxis", "all", "all", 1, 1, 0, 0, 1.0),
    ("anaphylaxis.niaid_wao", "anaphylaxis", "product", "Privigen", 1, 1, 0, 0, 1.0),
    ("anaphylaxis.niaid_wao", "anaphylaxis", "rate band", "200-299", 1, 1, 0, 0, 1.0),
    ("fever.febrile_reaction", "fever", "all", "all", 2, 0, 1, 1, 0.0),
    ("fever.febrile_reaction", "fever", "product", "Gamunex-C", 1, 0, 1, 0, 0.0),
    ("fever.febrile_reaction", "fever", "product", "Privigen", 1, 0, 0, 1, 0.0),
    ("fever.febrile_reaction", "fever", "rate band", "100-199", 1, 0, 1, 0, 0.0),
    ("fever.febrile_reaction", "fever", "rate band", "<100", 1, 0, 0, 1, 0.0),
    ("infusion_reaction.symptoms", "infusion_reaction", "all", "all", 1, 1, 0, 0, 1.0),
    ("infusion_reaction.symptoms", "infusion_reaction", "product", "Privigen", 1, 1, 0, 0, 1.0),
    ("infusion_reaction.symptoms", "infusion_reaction", "rate band", "200-299", 1, 1, 0, 0, 1.0),
    ("respiratory_compromise.symptom_alone", "respiratory_compromise", "all", "all", 1, 1, 0, 0, 1.0),
    (
        "respiratory_compromise.symptom_alone",
        "respiratory_compromise",
        "product",
        "Privigen",
        1,
        1,
        0,
        0,
        1.0,
    ),
    (
        "respiratory_compromise.symptom_alone",
        "respiratory_compromise",
        "rate band",
        "200-299",
        1,
        1,
        0,
        0,
        1.0,
    ),
]


def test_ppv_per_rule_and_condition_by_product_and_rate_band(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = live.settings.model_copy(update={"influx_db": PPV_DB})

    async def load() -> None:
        async with InfluxClient(settings, role="admin") as client:
            await client.query(f'DROP DATABASE "{PPV_DB}"', write=True)
            await client.ensure_database()
            for timeline in ppv_dataset():
                lines = sorted(timeline.lines(), key=lambda line: json.loads(line)["ts"])
                assert not (await import_lines(client, lines, load_rules())).bad_lines

    asyncio.run(load())
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        answer = CliRunner().invoke(app, ["query", "ppv", "--since", SINCE, "--format", "json"])
        assert answer.exit_code == 0, answer.stderr
        assert [tuple(r.values()) for r in json.loads(answer.stdout)] == PPV_ROWS
        later = CliRunner().invoke(
            app, ["query", "ppv", "--since", "2026-11-11T00:00:00Z", "--format", "csv"]
        )
        assert [(r["rule"], r["group"], r["resolved"]) for r in _csv(later.stdout)][:2] == [
            ("fever.febrile_reaction", "all", "2"),
            ("fever.febrile_reaction", "Gamunex-C", "1"),
        ], "the period counts the alerts first fired in it"
    finally:
        get_settings.cache_clear()
