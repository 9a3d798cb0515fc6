"""The watchdog's decisions (pure, no I/O, no clock reads): samples in, `pipeline_stalled` messages out.

Fires (critical, `firing`) when an event of the rule group has waited `stall_seconds` while its
partition's backlog did not shrink, or when a rule worker's /healthz has not answered for
`unanswered_seconds`. Escalates like a critical alert of the rule file while nobody acknowledges it.
Resolves once processing has caught up (no event waiting longer than `caught_up_seconds`, every
worker answering) and stayed so for `resolve_hold_seconds` (the stall time): a worker stalling
again and again, or a wait hovering near the limit, is one open alert instead of a storm, and
firing again needs a whole new stall. Messages only on change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from models.alerts import Alert, AlertStatus, Evidence
from models.events import NurseAction
from streams.apps.watchdog import messages
from streams.apps.watchdog.lag import Backlog, BacklogView, Offsets
from streams.apps.watchdog.messages import Findings


@dataclass(frozen=True)
class Limits:
    interval_seconds: float
    stall_seconds: float
    unanswered_seconds: float
    escalate_after: timedelta | None = None  # the rule file's critical escalation delay
    max_escalation_level: int = 3

    @property
    def caught_up_seconds(self) -> float:
        """An event waiting no longer than this counts as processed in time (a commit or two behind)."""
        return min(self.stall_seconds / 2, max(2 * self.interval_seconds, 2.0))

    @property
    def resolve_hold_seconds(self) -> float:
        """Caught up this long before resolving: a worker stalling again and again stays one alert."""
        return max(2 * self.interval_seconds, self.stall_seconds)


@dataclass(frozen=True)
class Sample:
    """One look at the pipeline: `t` monotonic seconds, `now` the wall time for messages."""

    t: float
    now: datetime
    offsets: Offsets | None  # the rule group on ivig.events.v1; None when Kafka did not answer
    answered: Mapping[str, bool]  # /healthz URL -> answered this time


@dataclass
class OpenAlert:
    n: int
    status: AlertStatus
    level: int
    since: datetime  # when the last firing or escalation was due: the next escalation counts from it
    fired_at: datetime | None = None  # when it fired (None: unknown after a restart)


@dataclass
class Watch:
    """The state of the watchdog; `observe` each sample, `act` on each nurse action of its alerts."""

    group: str
    limits: Limits
    last_n: int = 0
    open: OpenAlert | None = None
    backlog: Backlog = field(init=False)
    last_answer: dict[str, float] = field(default_factory=dict)
    clear_since: float | None = None
    latest: Findings | None = None
    answered_now: bool = True

    def __post_init__(self) -> None:
        self.backlog = Backlog(window_seconds=self.limits.stall_seconds)

    def restore(self, last: Alert | None) -> None:
        """Continue from the watchdog's own last message (read back from ivig.alerts.v1)."""
        if last is None or (n := messages.number_of(last.alert_id)) is None:
            return
        self.last_n = max(self.last_n, n)
        if last.status is AlertStatus.RESOLVED:
            self.open = None
        else:
            fired_at = last.ts if last.status is AlertStatus.FIRING and last.escalation_level == 0 else None
            self.open = OpenAlert(n, last.status, last.escalation_level, last.ts, fired_at)

    def observe(self, sample: Sample) -> list[Alert]:
        findings = self._findings(sample)
        self.latest = findings
        if self.open is None:
            if not findings.problem:
                return []
            self.last_n += 1
            self.clear_since = None
            self.open = OpenAlert(self.last_n, AlertStatus.FIRING, 0, sample.now, sample.now)
            return [
                messages.message(
                    self.last_n,
                    AlertStatus.FIRING,
                    sample.now,
                    messages.stalled_evidence(findings, sample.now),
                )
            ]
        if self._clear(findings):
            self.clear_since = sample.t if self.clear_since is None else self.clear_since
            if sample.t - self.clear_since >= self.limits.resolve_hold_seconds:
                return [self._resolve(sample)]
        else:
            self.clear_since = None
        return self._escalations(findings, sample.now)

    def act(self, action: NurseAction) -> list[Alert]:
        """A nurse's ack (or resolve: this alert closes only by catching up) stops escalation."""
        current = self.open
        if (
            current is None
            or messages.number_of(action.alert_id) != current.n
            or action.type in ("note", "handover")
        ):
            return []
        if current.status is AlertStatus.ACKNOWLEDGED:
            return []
        current.status = AlertStatus.ACKNOWLEDGED
        evidence = messages.stalled_evidence(self.latest, action.ts) if self.latest else _ack_evidence(action)
        return [
            messages.message(
                current.n,
                AlertStatus.ACKNOWLEDGED,
                action.ts,
                evidence,
                current.level,
                action.by,
                action.note,
            )
        ]

    def _findings(self, sample: Sample) -> Findings:
        view: BacklogView | None = None
        stalled: tuple[int, ...] = ()
        if sample.offsets is not None:
            view = self.backlog.add(sample.t, sample.offsets)
            stalled = tuple(view.stalled(self.limits.stall_seconds))
        unanswered: dict[str, float] = {}
        for url, answered in sample.answered.items():
            if answered or url not in self.last_answer:
                self.last_answer[url] = sample.t  # a worker is given the whole limit from the first look
            silent = sample.t - self.last_answer[url]
            if silent >= self.limits.unanswered_seconds:
                unanswered[url] = silent
        self.answered_now = all(sample.answered.values())
        return Findings(self.group, view, stalled, unanswered)

    def _clear(self, findings: Findings) -> bool:
        b = findings.backlog
        return (
            b is not None
            and not findings.problem
            and self.answered_now
            and b.caught_up(self.limits.caught_up_seconds)
        )

    def _resolve(self, sample: Sample) -> Alert:
        assert self.open is not None  # noqa: S101 - only called with an open alert
        current, self.open, self.clear_since = self.open, None, None
        fired = current.fired_at
        stalled = None if fired is None else (sample.now - fired).total_seconds()
        return messages.message(
            current.n,
            AlertStatus.RESOLVED,
            sample.now,
            messages.resolved_evidence(stalled, sample.now),
            current.level,
        )

    def _escalations(self, findings: Findings, now: datetime) -> list[Alert]:
        """One `escalated` message per due time passed, while nobody acknowledged the alert."""
        current, delay = self.open, self.limits.escalate_after
        out: list[Alert] = []
        if current is None or delay is None or current.status is AlertStatus.ACKNOWLEDGED:
            return out
        while current.level < self.limits.max_escalation_level and current.since + delay <= now:
            current.since += delay
            current.level += 1
            current.status = AlertStatus.ESCALATED
            evidence = messages.stalled_evidence(findings, current.since)
            out.append(
                messages.message(current.n, AlertStatus.ESCALATED, current.since, evidence, current.level)
            )
        return out

    def snapshot(self) -> dict[str, object]:
        """The state for the watchdog's /healthz (counts and ids only)."""
        b = self.latest.backlog if self.latest else None
        return {
            "alert": None
            if self.open is None
            else {
                "alert_id": messages.alert_id(self.open.n),
                "status": self.open.status.value,
                "escalation_level": self.open.level,
            },
            "last_alert_number": self.last_n,
            "lag_events": None if b is None else b.total_lag,
            "oldest_wait_seconds": None if b is None else round(b.oldest_wait, 1),
            "unanswered": dict(self.latest.unanswered) if self.latest else {},
        }


def _ack_evidence(action: NurseAction) -> Evidence:
    return Evidence(summary="Acknowledged by the on-call team.", phase=messages.PHASE, observed_at=action.ts)
