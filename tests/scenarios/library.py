"""The clinical scenario library: recorded event files with the alerts the clinical reference expects.

Each scenario is a pair of files in `library/`: `NAME.jsonl` (the events and nurse actions, exactly
what `ivigwatch replay` reads) and `NAME.toml` (what should and should not come out). The format is
described in README.md next to this file. `load_scenarios()` reads them all; `check()` compares the
alert messages of a run (from `replay`, or parsed from `ivig.alerts.v1` in a live run) with the
expectations and returns the problems in words (an empty list is a pass).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from models.alerts import Alert, AlertStatus, Condition, Severity
from models.ruleset import RuleSet
from streams.apps.replay import LineError, replay

LIBRARY_DIR = Path(__file__).with_name("library")

SHIFTED_FIELDS = ("ts", "planned_end")
"""Time fields of a replay line that `Scenario.rebased` moves."""


class ScenarioError(ValueError):
    """A scenario file cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """An alert that must come out: its condition first reaches `min_severity` (a `firing` message at
    that severity or above) between `from_minutes` and `to_minutes` after t0, inclusive. The other
    fields, when given, are checked on that same message (or, for resolution, on its alert id)."""

    condition: Condition
    min_severity: Severity
    from_minutes: float
    to_minutes: float
    max_severity: Severity | None = None
    rule_id: str | None = None
    action_contains: str | None = None
    summary_contains: str | None = None
    session_id: str | None = None
    resolved_from_minutes: float | None = None
    resolved_by_minutes: float | None = None
    stays_open: bool = False
    alert_n: int | None = None
    """Only the messages of the condition's n-th alert of the session (`{session_id}:{condition}:{n}`)."""
    pages: bool | None = None
    """Checked on that message's `page` flag."""
    pending: bool | None = None
    """Checked on that message's `pending` flag (a lone reading waiting for its repeat)."""
    incident_of: Condition | None = None
    """That message is in the same incident as the first message of this condition."""


@dataclass(frozen=True, slots=True)
class Absence:
    """A condition that must not come out at `at_or_above` or higher (in any message)."""

    condition: Condition
    at_or_above: Severity = Severity.WARNING
    session_id: str | None = None
    alert_n: int | None = None
    """Only the condition's n-th alert of a session must not come out."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    covers: tuple[Condition, ...]
    lines: list[str]
    t0: datetime
    until: datetime | None
    live: bool
    expect: tuple[Expectation, ...] = ()
    absent: tuple[Absence, ...] = ()
    quiet_at_or_above: Severity | None = None
    """No alert of a condition not named in `expect` may reach this severity."""
    bad_lines: tuple[int, ...] = ()
    """Line numbers (from 1) that the contract rejects on purpose; replay must report exactly these."""
    max_pages: int | None = None
    """At most this many messages with `page: true` (findings and incident escalations) in all."""
    path: Path = field(default=LIBRARY_DIR)

    @property
    def patient_ids(self) -> frozenset[str]:
        """The patients whose alerts this scenario is about."""
        ids: set[str] = set()
        for line in self.lines:
            data = _json_object(line)
            if data is not None and isinstance(data.get("patient_id"), str):
                ids.add(data["patient_id"])
        return frozenset(ids)

    def minutes(self, ts: datetime) -> float:
        """Minutes from t0 to `ts`."""
        return (ts - self.t0).total_seconds() / 60

    def at(self, minutes: float) -> datetime:
        return self.t0 + timedelta(minutes=minutes)

    def event_span(self) -> tuple[datetime, datetime]:
        """The first and last event time in the file (lines that are not JSON objects are skipped)."""
        times = [
            parsed
            for line in self.lines
            if (data := _json_object(line)) is not None and (parsed := _time(data.get("ts"))) is not None
        ]
        if not times:
            raise ScenarioError(f"{self.path}: no event times")
        return min(times), max(times)

    def rebased(self, t0: datetime) -> Scenario:
        """The same scenario moved in time so that it starts at `t0` (for a live run: put t0 at or
        after the wall clock, so that event times run ahead of it as in an accelerated simulation).
        Every `ts` and `planned_end` moves by the same amount; lines that are not JSON stay as they are."""
        delta = t0 - self.t0
        lines = []
        for line in self.lines:
            data = _json_object(line)
            if data is None:
                lines.append(line)
                continue
            for key in SHIFTED_FIELDS:
                if (parsed := _time(data.get(key))) is not None:
                    data[key] = _iso(parsed + delta)
            lines.append(json.dumps(data))
        until = self.until + delta if self.until is not None else None
        return replace(self, lines=lines, t0=t0, until=until)


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

_TOP_KEYS = {
    "description",
    "covers",
    "t0",
    "until_minutes",
    "live",
    "quiet_at_or_above",
    "bad_lines",
    "max_pages",
    "expect",
    "absent",
}
_EXPECT_KEYS = {
    "condition",
    "min_severity",
    "max_severity",
    "from_minutes",
    "to_minutes",
    "rule_id",
    "action_contains",
    "summary_contains",
    "session_id",
    "resolved_from_minutes",
    "resolved_by_minutes",
    "stays_open",
    "alert_n",
    "pages",
    "pending",
    "incident_of",
}
_ABSENT_KEYS = {"condition", "at_or_above", "session_id", "alert_n"}


class _Reader:
    """Typed access to one TOML table, with errors naming the file and key."""

    def __init__(self, path: Path, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        self.path, self.table, self.where = path, table, where
        unknown = sorted(set(table) - allowed)
        if unknown:
            self.fail(", ".join(unknown), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def fail(self, key: str, why: str) -> NoReturn:
        raise ScenarioError(f"{self.path}: {self.where}{key}: {why}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        return str(value)

    def number(self, key: str, *, required: bool = False) -> float | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "must be a number of minutes")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return bool(value)

    def optional_flag(self, key: str) -> bool | None:
        return self.flag(key) if key in self.table else None

    def count(self, key: str, *, least: int = 1) -> int | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            self.fail(key, f"must be a whole number from {least}")
        return value

    def severity(self, key: str, *, default: Severity | None = None) -> Severity | None:
        value = self.table.get(key)
        if value is None:
            return default
        try:
            return Severity(value)
        except ValueError:
            self.fail(key, f"{value!r} is not one of {', '.join(s.value for s in Severity)}")

    def condition(self, key: str) -> Condition:
        value = self.table.get(key)
        if value is None:
            self.fail(key, "required")
        try:
            return Condition(value)
        except ValueError:
            self.fail(key, f"{value!r} is not a condition of the contract")

    def time(self, key: str) -> datetime:
        value = self.table.get(key)
        if isinstance(value, str):
            value = _time(value)
        if not isinstance(value, datetime) or value.tzinfo is None:
            self.fail(key, "required: an RFC 3339 time with an offset, e.g. 2026-03-02T09:00:00Z")
        return value.astimezone(UTC)


def _rows(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = data.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ScenarioError(f"{path}: {key}: must be an array of tables ([[{key}]])")
    return rows


def _expectation(path: Path, index: int, row: dict[str, Any]) -> Expectation:
    r = _Reader(path, row, f"expect[{index}].", _EXPECT_KEYS)
    lower, upper = r.number("from_minutes", required=True), r.number("to_minutes", required=True)
    if lower is None or upper is None:
        r.fail("from_minutes", "required")
    if upper < lower:
        r.fail("to_minutes", "must not be before from_minutes")
    minimum = r.severity("min_severity")
    if minimum is None:
        r.fail("min_severity", "required")
    maximum = r.severity("max_severity")
    if maximum is not None and maximum.rank < minimum.rank:
        r.fail("max_severity", "must not be below min_severity")
    expectation = Expectation(
        condition=r.condition("condition"),
        min_severity=minimum,
        from_minutes=lower,
        to_minutes=upper,
        max_severity=maximum,
        rule_id=r.text("rule_id"),
        action_contains=r.text("action_contains"),
        summary_contains=r.text("summary_contains"),
        session_id=r.text("session_id"),
        resolved_from_minutes=r.number("resolved_from_minutes"),
        resolved_by_minutes=r.number("resolved_by_minutes"),
        stays_open=r.flag("stays_open"),
        alert_n=r.count("alert_n"),
        pages=r.optional_flag("pages"),
        pending=r.optional_flag("pending"),
        incident_of=r.condition("incident_of") if "incident_of" in row else None,
    )
    resolves = expectation.resolved_from_minutes is not None or expectation.resolved_by_minutes is not None
    if expectation.stays_open and resolves:
        r.fail("stays_open", "contradicts resolved_from_minutes / resolved_by_minutes")
    return expectation


def _absence(path: Path, index: int, row: dict[str, Any]) -> Absence:
    r = _Reader(path, row, f"absent[{index}].", _ABSENT_KEYS)
    level = r.severity("at_or_above", default=Severity.WARNING) or Severity.WARNING
    return Absence(
        condition=r.condition("condition"),
        at_or_above=level,
        session_id=r.text("session_id"),
        alert_n=r.count("alert_n"),
    )


def load_scenario(toml_path: Path) -> Scenario:
    """One scenario from its TOML file and the JSONL file of the same name."""
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{toml_path}: not valid TOML: {exc}") from None
    jsonl_path = toml_path.with_suffix(".jsonl")
    if not jsonl_path.is_file():
        raise ScenarioError(f"{toml_path}: no event file {jsonl_path.name} next to it")
    r = _Reader(toml_path, data, "", _TOP_KEYS)
    covers_raw = data.get("covers")
    if not isinstance(covers_raw, list) or not covers_raw:
        r.fail("covers", "required: a non-empty list of conditions")
    try:
        covers = tuple(Condition(c) for c in covers_raw)
    except ValueError as exc:
        r.fail("covers", str(exc))
    bad = data.get("bad_lines", [])
    if not isinstance(bad, list) or not all(isinstance(n, int) and n >= 1 for n in bad):
        r.fail("bad_lines", "must be a list of line numbers (from 1)")
    t0 = r.time("t0")
    until_minutes = r.number("until_minutes")
    description = r.text("description", required=True) or ""
    return Scenario(
        name=toml_path.stem,
        description=" ".join(description.split()),
        covers=covers,
        lines=jsonl_path.read_text(encoding="utf-8").splitlines(),
        t0=t0,
        until=t0 + timedelta(minutes=until_minutes) if until_minutes is not None else None,
        live=r.flag("live"),
        expect=tuple(
            _expectation(toml_path, i, row) for i, row in enumerate(_rows(toml_path, data, "expect"))
        ),
        absent=tuple(_absence(toml_path, i, row) for i, row in enumerate(_rows(toml_path, data, "absent"))),
        quiet_at_or_above=r.severity("quiet_at_or_above"),
        bad_lines=tuple(sorted(bad)),
        max_pages=r.count("max_pages", least=0),
        path=toml_path,
    )


def load_scenarios(directory: Path = LIBRARY_DIR) -> list[Scenario]:
    """Every scenario of the library, sorted by name."""
    return [load_scenario(path) for path in sorted(directory.glob("*.toml"))]


def unpaired_files(directory: Path = LIBRARY_DIR) -> list[str]:
    """Names of `.jsonl` files without a `.toml`, and the reverse."""
    jsonl = {p.stem for p in directory.glob("*.jsonl")}
    toml = {p.stem for p in directory.glob("*.toml")}
    return sorted(
        [f"{name}.jsonl has no {name}.toml" for name in jsonl - toml]
        + [f"{name}.toml has no {name}.jsonl" for name in toml - jsonl]
    )


def replay_scenario(scenario: Scenario, rules: RuleSet) -> tuple[list[Alert], list[LineError]]:
    """Run the scenario through `replay` (with its `until`): the alert messages and the line errors."""
    alerts: list[Alert] = []
    errors: list[LineError] = []
    for item in replay(scenario.lines, rules, until=scenario.until):
        if isinstance(item, LineError):
            errors.append(item)
        else:
            alerts.append(item)
    return alerts, errors


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------


def _fmt(minutes: float) -> str:
    return f"{minutes:g} min"


def _brief(scenario: Scenario, messages: Iterable[Alert], limit: int = 8) -> str:
    items = [
        f"{a.status.value} {a.severity.value} at {_fmt(scenario.minutes(a.ts))} ({a.rule.id})"
        for a in messages
    ]
    if not items:
        return "no message"
    more = f", ... {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _check_expectation(scenario: Scenario, want: Expectation, alerts: Sequence[Alert]) -> list[str]:
    name = want.condition.value
    messages = [
        a
        for a in alerts
        if a.condition is want.condition
        and (want.session_id is None or a.session_id == want.session_id)
        and (want.alert_n is None or a.alert_id.rsplit(":", 1)[-1] == str(want.alert_n))
    ]
    window = f"{want.from_minutes:g}..{want.to_minutes:g} min"
    reaching = [
        (a.ts, i, a)
        for i, a in enumerate(messages)
        if a.status is AlertStatus.FIRING and a.severity.rank >= want.min_severity.rank
    ]
    if not reaching:
        return [
            f"{name}: expected it to fire at {want.min_severity.value} or above within {window}; "
            f"it never did ({_brief(scenario, messages)})"
        ]
    first = min(reaching, key=lambda item: (item[0], item[1]))[2]
    at = scenario.minutes(first.ts)
    problems: list[str] = []
    if not want.from_minutes <= at <= want.to_minutes:
        problems.append(
            f"{name}: first fired at {want.min_severity.value} or above at {_fmt(at)}, "
            f"expected within {window} ({_brief(scenario, messages)})"
        )
    if want.max_severity is not None and first.severity.rank > want.max_severity.rank:
        problems.append(
            f"{name}: at {_fmt(at)} it fired at {first.severity.value}, "
            f"expected at most {want.max_severity.value} ({first.rule.id})"
        )
    if want.pages is not None and first.page != want.pages:
        problems.append(
            f"{name}: at {_fmt(at)} {first.alert_id} has page={first.page}, expected {want.pages}"
        )
    if want.pending is not None and first.pending != want.pending:
        problems.append(
            f"{name}: at {_fmt(at)} {first.alert_id} has pending={first.pending}, expected {want.pending}"
        )
    if want.incident_of is not None:
        other = next((a for a in alerts if a.condition is want.incident_of), None)
        if other is None or other.incident_id != first.incident_id:
            problems.append(
                f"{name}: at {_fmt(at)} {first.alert_id} is in incident {first.incident_id}, expected the "
                f"incident of {want.incident_of.value} ({other.incident_id if other else 'none'})"
            )
    if want.rule_id is not None and first.rule.id != want.rule_id:
        problems.append(f"{name}: at {_fmt(at)} rule {first.rule.id} fired, expected rule {want.rule_id}")
    if want.action_contains is not None and want.action_contains not in first.action:
        problems.append(
            f"{name}: at {_fmt(at)} the action does not say {want.action_contains!r}: {first.action!r}"
        )
    if want.summary_contains is not None and want.summary_contains not in first.evidence.summary:
        problems.append(
            f"{name}: at {_fmt(at)} the evidence summary does not say {want.summary_contains!r}: "
            f"{first.evidence.summary!r}"
        )
    resolved = [
        a
        for a in messages
        if a.alert_id == first.alert_id and a.status is AlertStatus.RESOLVED and a.ts >= first.ts
    ]
    if want.stays_open and resolved:
        problems.append(
            f"{name}: {first.alert_id} resolved at {_fmt(scenario.minutes(resolved[0].ts))} "
            f"({resolved[0].by or 'by itself'}), expected it to stay open"
        )
    if want.resolved_from_minutes is not None or want.resolved_by_minutes is not None:
        lower = want.resolved_from_minutes if want.resolved_from_minutes is not None else at
        upper = want.resolved_by_minutes if want.resolved_by_minutes is not None else float("inf")
        expected = f"between {_fmt(lower)} and {_fmt(upper)}"
        if not resolved:
            problems.append(f"{name}: {first.alert_id} never resolved, expected it to resolve {expected}")
        elif not lower <= (when := scenario.minutes(resolved[0].ts)) <= upper:
            problems.append(f"{name}: {first.alert_id} resolved at {_fmt(when)}, expected {expected}")
    return problems


def _unexpected(scenario: Scenario, a: Alert, why: str) -> str:
    return (
        f"{a.condition.value}: unexpected {a.status.value} {a.severity.value} at "
        f"{_fmt(scenario.minutes(a.ts))} ({why}; rule {a.rule.id}): {a.title}"
    )


def check(scenario: Scenario, alerts: Sequence[Alert]) -> list[str]:
    """What is wrong with these alert messages for this scenario, in words; [] when nothing is.

    Works on the messages of a replay or on `Alert` objects parsed from `ivig.alerts.v1`; messages
    about other patients (or the pipeline's own `-` alerts) are ignored.
    """
    patients = scenario.patient_ids
    mine = sorted(
        # An incident's own messages are no finding: its members are checked (tests/unit/agents/
        # rules/test_incidents.py checks incidents).
        (a for a in alerts if a.patient_id in patients and a.condition is not Condition.INCIDENT),
        key=lambda a: a.ts,
    )
    problems: list[str] = []
    for want in scenario.expect:
        problems.extend(_check_expectation(scenario, want, mine))
    reported: set[Condition] = set()
    for absence in scenario.absent:
        hit = next(
            (
                a
                for a in mine
                if a.condition is absence.condition
                and a.severity.rank >= absence.at_or_above.rank
                and (absence.session_id is None or a.session_id == absence.session_id)
                and (absence.alert_n is None or a.alert_id.rsplit(":", 1)[-1] == str(absence.alert_n))
            ),
            None,
        )
        if hit is not None:
            reported.add(hit.condition)
            problems.append(_unexpected(scenario, hit, f"must stay below {absence.at_or_above.value}"))
    if scenario.quiet_at_or_above is not None:
        expected = {want.condition for want in scenario.expect}
        level = scenario.quiet_at_or_above
        for a in mine:
            if a.condition in expected or a.condition in reported or a.severity.rank < level.rank:
                continue
            reported.add(a.condition)
            problems.append(_unexpected(scenario, a, f"nothing else at {level.value} or above"))
    if scenario.max_pages is not None:
        paged = [a for a in alerts if a.patient_id in patients and a.page]
        if len(paged) > scenario.max_pages:
            problems.append(
                f"{len(paged)} pages, expected at most {scenario.max_pages}: "
                + ", ".join(
                    f"{a.condition.value} {a.status.value} at {_fmt(scenario.minutes(a.ts))}" for a in paged
                )
            )
    return problems
