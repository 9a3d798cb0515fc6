"""`ivigwatch report` on the real InfluxDB: recorded sessions imported into a database of their own,
then a session's and a cohort's PNG and HTML written under artifacts/ (kept for a look)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner, Result

from agents.rules.loader import load_rules
from streams.apps.cli.main import app
from streams.apps.influx_import import import_lines
from streams.apps.sessions import sessions_started
from streams.infra.settings import Settings, get_settings
from streams.infra.sinks.influx.influx_client import InfluxClient
from tests.builders import Timeline
from tests.integration.conftest import Live

pytestmark = pytest.mark.integration

LIBRARY = Path(__file__).parents[1] / "scenarios" / "library"
ARTIFACTS = Path(__file__).parents[2] / "artifacts"
DB = "ivigwatch_report_test"
FILES = [
    "fever-after-rate-step",
    "anaphylaxis-skin-low-spo2",
    "reaction-after-rate-step",
    "hypotension-below-90",
    "tachycardia-bands",
    "hypoxemia-bands",
    "news2-total-5",
    "stale-data-standard",
    "high-risk-no-epinephrine",
    "renal-weight-gain-2kg",
    "control-gammagard",
    "control-octagam-post-days",
    "control-full-sets",
    "late",
]


LATE_START = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def late_session() -> list[str]:
    """A session built here, three days after the library's: a fever 25 minutes after a rate step."""
    t = Timeline(patient="pt-late-01", session="pt-late-01-d1", start=LATE_START)
    t.baseline(-20).baseline(-10).start_infusion(rate=50).infusion(30, "rate_change", 100)
    for minute in range(5, 90, 10):
        t.vitals(minute, heart_rate=76, spo2=97, temperature_c=38.4 if minute > 50 else 36.9)
    lines = t.symptom(60, "chills").infusion(90, "stop").lines()
    return sorted(lines, key=lambda line: json.loads(line)["ts"])  # as a recorded file: in time order


def _lines(name: str) -> list[str]:
    return late_session() if name == "late" else (LIBRARY / f"{name}.jsonl").read_text().splitlines()


def _sessions(name: str) -> list[tuple[str, str]]:
    """(start time, session id) of each session started in a file."""
    items = [json.loads(line) for line in _lines(name)]
    return [(e["ts"], e["session_id"]) for e in items if e.get("action") == "start"]


async def _import(settings: Settings) -> None:
    rules = load_rules()
    async with InfluxClient(settings, role="admin") as client:
        await client.query(f'DROP DATABASE "{DB}"', write=True)  # a rerun starts from nothing
        await client.ensure_database()
        for name in FILES:
            summary = await import_lines(client, _lines(name), rules)
            assert not summary.bad_lines, (name, summary.bad_lines)


@pytest.fixture(scope="module")
def imported(live: Live) -> Settings:
    settings = live.settings.model_copy(update={"influx_db": DB})
    asyncio.run(_import(settings))
    return settings


@pytest.fixture
def cli(imported: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name, value in imported.to_env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def image(path: Path) -> np.ndarray:
    return np.asarray(imread(path))[:, :, :3]


def assert_drawn(path: Path, size: tuple[int, int]) -> None:
    """The PNG has the fixed size and is a figure, not a blank page."""
    rgb = image(path)
    assert (rgb.shape[1], rgb.shape[0]) == size
    assert rgb.std() > 0.1
    assert (rgb < 0.95).any(axis=2).mean() > 0.05


def assert_embeds(html_path: Path, png_path: Path) -> str:
    page = html_path.read_text(encoding="utf-8")
    assert f'src="data:image/png;base64,{base64.b64encode(png_path.read_bytes()).decode()}"' in page
    assert "https://" not in page and "http://" not in page and "<script" not in page
    return page


def written(result: Result) -> list[Path]:
    assert result.exit_code == 0, result.stderr
    return [Path(line) for line in result.stdout.splitlines()]


async def test_sessions_started_in_a_period_in_start_order(imported: Settings) -> None:
    library = sorted(s for name in FILES[:-1] for _, s in _sessions(name))  # all start 2026-03-02 09:00
    async with InfluxClient(imported, role="reader") as client:
        everything = await sessions_started(client, datetime(2026, 3, 1, tzinfo=UTC))
        before_late = await sessions_started(client, datetime(2026, 3, 1, tzinfo=UTC), LATE_START)
        from_late = await sessions_started(client, LATE_START)
        later = await sessions_started(client, LATE_START.replace(minute=1))
    assert everything == [*library, "pt-late-01-d1"]  # start order, ties by id
    assert before_late == library  # `until` is exclusive, `since` inclusive
    assert from_late == ["pt-late-01-d1"]
    assert later == []


def test_report_of_one_session_writes_its_figure_and_page(cli: CliRunner) -> None:
    session = "pt-ana-01-d1"
    paths = written(cli.invoke(app, ["report", session, "--out", str(ARTIFACTS)]))
    png, page = ARTIFACTS / f"report-{session}.png", ARTIFACTS / f"report-{session}.html"
    assert paths == [png, page]
    # heart rate, blood pressure, temperature, SpO2 and the infusion panel
    assert_drawn(png, (1600, 5 * 300))
    rgb = image(png)
    red = np.abs(rgb - np.array([0xD6, 0x27, 0x28]) / 255).max(axis=2) < 0.02  # the critical anaphylaxis
    assert red.sum() > 50
    text = assert_embeds(page, png)
    assert "anaphylaxis" in text and "Gammagard Liquid" in text and "pt-ana-01" in text


def test_report_of_the_classic_fever_after_a_rate_step(cli: CliRunner) -> None:
    paths = written(cli.invoke(app, ["report", "pt-fever-01-d1", "--out", str(ARTIFACTS)]))
    assert_drawn(paths[0], (1600, 5 * 300))
    assert "fever" in assert_embeds(paths[1], paths[0])


def test_report_of_a_cohort_writes_its_figure_and_a_row_per_session(cli: CliRunner) -> None:
    args = ["report", "--cohort", "--since", "2026-03-01", "--until", "2026-03-10T00:00:00Z"]
    paths = written(cli.invoke(app, [*args, "--out", str(ARTIFACTS)]))
    png = ARTIFACTS / "cohort-20260301T000000Z-20260310T000000Z.png"
    assert paths == [png, png.with_suffix(".html")]
    assert_drawn(png, (1600, 1200))
    page = assert_embeds(paths[1], png)
    sessions = [s for name in FILES for _, s in _sessions(name)]
    assert page.count("<tr><td>") == len(sessions)
    assert all(f"<td>{s}</td>" in page for s in sessions)


def test_report_of_an_unknown_session_or_an_empty_period_exits_1(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["report", "pt-nobody-d1", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == f"no session 'pt-nobody-d1' in InfluxDB database '{DB}'\n"
    result = cli.invoke(app, ["report", "--cohort", "--since", "2030-01-01", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr == f"no session started since 2030-01-01 00:00 UTC in InfluxDB database '{DB}'\n"
    assert not list(tmp_path.iterdir())
