"""The cohort's figures: pages per 100 uneventful infusion-hours and per post-infusion patient-day
by condition, sensitivity and time to page per serious-event kind, and the printed table."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from models.alerts import AlertStatus, Severity
from streams.apps.cohort import (
    care_schedule,
    device_noise,
    physiology,
    population,
    responses,
    serious_courses,
    session_plan,
)
from streams.apps.cohort.paging import is_page
from streams.apps.cohort.parameters import Parameter
from streams.apps.cohort.run import Emitted, SessionOutcome
from streams.apps.cohort.serious_events import PAGING_CONDITIONS, Kind

SENSITIVE_WITHIN = timedelta(minutes=5)
"""An event counts as caught when paged at urgent or higher within this long of its first evidence."""


def model_parameters() -> list[Parameter]:
    """Every parameter of the cohort model, with its source, in the order the header prints them."""
    modules = (population, physiology, device_noise, care_schedule, session_plan, serious_courses, responses)
    return [p for module in modules for p in module.PARAMETERS]


def pages(emitted: Iterable[Emitted]) -> list[Emitted]:
    """The pages among the messages, each once: the same message (alert, status, severity and
    escalation level) seen again is the same page."""
    seen: set[tuple[str, AlertStatus, Severity, int]] = set()
    kept: list[Emitted] = []
    for item in emitted:
        alert = item.alert
        key = (alert.alert_id, alert.status, alert.severity, alert.escalation_level)
        if is_page(alert) and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


@dataclass(frozen=True, slots=True)
class EventResult:
    """How the rules answered one injected serious event."""

    kind: Kind
    seen: bool
    """Some evidence of it reached the rules."""
    caught: bool
    """Paged at urgent or higher, for one of its conditions, within SENSITIVE_WITHIN of the evidence."""
    to_page: timedelta | None
    """From the first evidence to the first such page (at any time; 0 if the page came first)."""
    pages: int
    """Every page of the session from the event's onset on."""


def event_result(outcome: SessionOutcome) -> EventResult:
    """The serious event of `outcome` (which must have one), judged on its pages."""
    if outcome.kind is None or outcome.onset is None:
        raise ValueError(f"session {outcome.session_id} has no serious event")
    onset, evidence = outcome.onset, outcome.evidence
    conditions = PAGING_CONDITIONS[outcome.kind]
    after_onset = [p for p in pages(outcome.emitted) if p.at >= onset]
    about = [
        p
        for p in after_onset
        if p.alert.severity.rank >= Severity.URGENT.rank and p.alert.condition in conditions
    ]
    if evidence is None or not about:
        return EventResult(outcome.kind, evidence is not None, False, None, len(after_onset))
    to_page = max(timedelta(0), about[0].at - evidence)
    caught = any(p.at - evidence <= SENSITIVE_WITHIN for p in about)
    return EventResult(outcome.kind, True, caught, to_page, len(after_onset))


@dataclass(slots=True)
class Burden:
    """Pages of the uneventful sessions, before and after the stop, by condition."""

    sessions: int = 0
    infusion_hours: float = 0.0
    patient_days: float = 0.0
    with_page: int = 0
    headaches: int = 0
    during: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    escalations: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: SessionOutcome) -> None:
        self.sessions += 1
        self.infusion_hours += outcome.infusion_hours
        self.patient_days += session_plan.POST_INFUSION_DAYS
        self.headaches += outcome.headache
        found = pages(outcome.emitted)
        self.with_page += bool(found)
        for page in found:
            condition = page.alert.condition.value
            (self.during if page.at < outcome.stop else self.after)[condition] += 1
            if page.alert.status is AlertStatus.ESCALATED:
                self.escalations[condition] += 1

    def per_100_hours(self, count: int) -> float:
        return 100 * count / self.infusion_hours if self.infusion_hours else 0.0

    def per_day(self, count: int) -> float:
        return count / self.patient_days if self.patient_days else 0.0


@dataclass(frozen=True, slots=True)
class KindFigures:
    kind: str
    events: int
    seen: int
    caught: int
    never_paged: int
    median_minutes: float | None
    worst_minutes: float | None
    pages_per_event: float

    @property
    def sensitivity(self) -> float | None:
        return self.caught / self.events if self.events else None


def kind_figures(name: str, results: Sequence[EventResult]) -> KindFigures:
    waits = [r.to_page.total_seconds() / 60 for r in results if r.to_page is not None]
    return KindFigures(
        kind=name,
        events=len(results),
        seen=sum(r.seen for r in results),
        caught=sum(r.caught for r in results),
        never_paged=sum(r.seen and r.to_page is None for r in results),
        median_minutes=statistics.median(waits) if waits else None,
        worst_minutes=max(waits) if waits else None,
        pages_per_event=sum(r.pages for r in results) / len(results) if results else 0.0,
    )


@dataclass(frozen=True, slots=True)
class CohortFigures:
    burden: Burden
    kinds: tuple[KindFigures, ...]
    """One row per kind, then "all"."""
    repeats: int
    acks: int


def summarise(outcomes: Iterable[SessionOutcome]) -> CohortFigures:
    burden = Burden()
    results: dict[Kind, list[EventResult]] = {kind: [] for kind in Kind}
    repeats = acks = 0
    for outcome in outcomes:
        repeats += len(outcome.repeated_at)
        acks += outcome.acks
        if outcome.kind is None:
            burden.add(outcome)
        else:
            results[outcome.kind].append(event_result(outcome))
    rows = [kind_figures(kind.value, found) for kind, found in results.items()]
    rows.append(kind_figures("all", [r for found in results.values() for r in found]))
    return CohortFigures(burden, tuple(rows), repeats, acks)


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} min"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def render(figures: CohortFigures, header: Sequence[str], parameters: Sequence[Parameter]) -> str:
    """The printed report: the header lines, the model's parameters, then the two tables."""
    b = figures.burden
    lines = [*header, "", "Model parameters (values; [source]):"]
    lines += [f"  {p.name}: {p.value} [{p.source}]" for p in parameters]
    total_during, total_after = sum(b.during.values()), sum(b.after.values())
    lines += [
        "",
        f"Alarm burden of {b.sessions} uneventful sessions ({b.infusion_hours:,.0f} infusion-hours, "
        f"{b.patient_days:,.0f} post-infusion patient-days; {b.headaches} with a mild headache):",
        f"  pages per 100 uneventful infusion-hours: {b.per_100_hours(total_during):.1f}   "
        f"per post-infusion patient-day: {b.per_day(total_after):.3f}   "
        f"sessions with any page: {_share(b.with_page / b.sessions if b.sessions else None)}",
        "",
        f"  {'condition':<24}{'infusing':>9}{'/100 h':>9}{'after':>8}{'/patient-day':>14}{'escalations':>13}",
    ]
    conditions = sorted(set(b.during) | set(b.after), key=lambda c: (-(b.during[c] + b.after[c]), c))
    for c in [*conditions, "total"]:
        during = total_during if c == "total" else b.during[c]
        after = total_after if c == "total" else b.after[c]
        escalated = sum(b.escalations.values()) if c == "total" else b.escalations[c]
        rates = f"{b.per_100_hours(during):>9.1f}{after:>8}{b.per_day(after):>14.4f}"
        lines.append(f"  {c:<24}{during:>9}{rates}{escalated:>13}")
    lines += [
        "",
        f"Serious events (caught = paged at urgent or higher, for one of the event's conditions, within "
        f"{SENSITIVE_WITHIN.total_seconds() / 60:g} min of its first evidence):",
        f"  {'kind':<18}{'events':>7}{'seen':>6}{'caught':>8}{'sensitivity':>13}{'median':>11}{'worst':>11}"
        f"{'never paged':>13}{'pages/event':>13}",
    ]
    for k in figures.kinds:
        lines.append(
            f"  {k.kind:<18}{k.events:>7}{k.seen:>6}{k.caught:>8}{_share(k.sensitivity):>13}"
            f"{_minutes(k.median_minutes):>11}{_minutes(k.worst_minutes):>11}{k.never_paged:>13}"
            f"{k.pages_per_event:>13.1f}"
        )
    lines += [
        "  (seen: some evidence reached the rules; median and worst: first evidence to the first such page)",
        "",
        f"Responses: {figures.repeats} repeat readings taken on request, {figures.acks} acknowledgements.",
    ]
    return "\n".join(lines)


def as_json(
    figures: CohortFigures, header: dict[str, Any], parameters: Sequence[Parameter]
) -> dict[str, Any]:
    """The same figures as a JSON-ready object."""
    b = figures.burden
    total_during, total_after = sum(b.during.values()), sum(b.after.values())
    conditions = sorted(set(b.during) | set(b.after))
    return {
        **header,
        "parameters": [{"name": p.name, "value": p.value, "source": p.source} for p in parameters],
        "burden": {
            "sessions": b.sessions,
            "infusion_hours": round(b.infusion_hours, 2),
            "patient_days": b.patient_days,
            "sessions_with_page": b.with_page,
            "pages_per_100_infusion_hours": round(b.per_100_hours(total_during), 3),
            "pages_per_post_infusion_patient_day": round(b.per_day(total_after), 5),
            "by_condition": {
                c: {
                    "infusing": b.during[c],
                    "per_100_hours": round(b.per_100_hours(b.during[c]), 3),
                    "after": b.after[c],
                    "per_patient_day": round(b.per_day(b.after[c]), 5),
                    "escalations": b.escalations[c],
                }
                for c in conditions
            },
        },
        "serious_events": [
            {
                "kind": k.kind,
                "events": k.events,
                "seen": k.seen,
                "caught": k.caught,
                "sensitivity": k.sensitivity,
                "median_minutes_to_page": k.median_minutes,
                "worst_minutes_to_page": k.worst_minutes,
                "never_paged": k.never_paged,
                "pages_per_event": round(k.pages_per_event, 3),
            }
            for k in figures.kinds
        ],
        "repeats": figures.repeats,
        "acknowledgements": figures.acks,
    }
