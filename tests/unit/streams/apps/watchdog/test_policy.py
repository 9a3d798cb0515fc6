"""The watchdog's decisions over synthetic samples: when `pipeline_stalled` fires, escalates, resolves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from models.alerts import Alert, AlertStatus, Condition, Severity
from models.events import NurseAction
from streams.apps.watchdog.lag import Offsets
from streams.apps.watchdog.policy import Limits, Sample, Watch

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
URL = "http://127.0.0.1:6066/healthz"
LIMITS = Limits(interval_seconds=1.0, stall_seconds=5.0, unanswered_seconds=5.0)


@dataclass
class Pipeline:
    """A topic of `partitions` partitions and the rule group consuming it, one sample per second."""

    partitions: int = 4
    end: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)
    t: float = 0.0
    answering: bool = True

    def __post_init__(self) -> None:
        self.end = dict.fromkeys(range(self.partitions), 0)
        self.committed = dict(self.end)

    def step(self, arrive: int = 10, process: int | None = None, only: set[int] | None = None) -> Sample:
        """One second: `arrive` events per partition; `process` per partition (None: all waiting)."""
        for p in self.end:
            self.end[p] += arrive
            if only is not None and p not in only:
                continue
            backlog = self.end[p] - self.committed[p]
            self.committed[p] += backlog if process is None else min(process, backlog)
        self.t += 1.0
        return Sample(
            self.t,
            T0 + timedelta(seconds=self.t),
            Offsets(dict(self.end), dict(self.committed)),
            {URL: self.answering},
        )


def run(watch: Watch, pipe: Pipeline, seconds: int, **step: object) -> list[Alert]:
    out: list[Alert] = []
    for _ in range(seconds):
        out.extend(watch.observe(pipe.step(**step)))  # type: ignore[arg-type]
    return out


def new_watch(limits: Limits = LIMITS) -> Watch:
    return Watch(group="ivigwatch-rules", limits=limits)


def test_healthy_pipeline_under_load_raises_nothing() -> None:
    watch, pipe = new_watch(), Pipeline()
    assert run(watch, pipe, 120, arrive=50) == []


def test_commits_a_second_behind_are_not_a_stall() -> None:
    """Faust commits about once a second: a group one sample behind is healthy."""
    watch, pipe = new_watch(), Pipeline()
    out = []
    for i in range(120):
        out += watch.observe(pipe.step(arrive=30, process=None if i % 2 else 0))
    assert out == []


def test_no_events_at_all_is_not_a_stall() -> None:
    watch, pipe = new_watch(), Pipeline()
    assert run(watch, pipe, 60, arrive=0) == []


def test_lag_growing_while_events_arrive_fires_one_critical_alert() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 10)
    fired = run(watch, pipe, 30, arrive=10, process=0)
    assert len(fired) == 1, "one message when it fires, never one per sample"
    alert = fired[0]
    assert alert.alert_id == "-:pipeline_stalled:1"
    assert (alert.patient_id, alert.session_id) == ("-", "-")
    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.CRITICAL
    assert alert.condition is Condition.PIPELINE_STALLED
    assert alert.evidence.values["lag_events"] >= 5 * 10 * 4
    assert alert.evidence.values["oldest_wait_seconds"] >= 5
    assert alert.evidence.values["events_processed"] == 0
    assert "ivigwatch-rules" in alert.evidence.summary
    assert "Alerts may be missing" in alert.action
    assert "restart the rule worker" in alert.action
    Alert.model_validate_json(alert.model_dump_json())  # survives the wire


def test_it_fires_after_the_stall_time_not_before() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 10)
    assert run(watch, pipe, 4, process=0) == []
    assert len(run(watch, pipe, 3, process=0)) == 1


def test_lag_flat_but_nothing_consumed_while_events_wait_fires() -> None:
    """Events waiting unconsumed (the worker froze with a backlog, no new arrivals) is a stall."""
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 5)
    run(watch, pipe, 1, arrive=10, process=0)
    fired = run(watch, pipe, 10, arrive=0, process=0)
    assert [a.status for a in fired] == [AlertStatus.FIRING]


def test_one_stuck_partition_is_not_hidden_by_the_others() -> None:
    watch, pipe = new_watch(), Pipeline(partitions=8)
    run(watch, pipe, 5)
    fired = run(watch, pipe, 10, arrive=10, only=set(range(7)))  # partition 7 stuck, the rest keep up
    assert len(fired) == 1
    assert fired[0].evidence.values["partitions_stalled"] == 1


def test_lag_high_but_shrinking_is_catching_up_not_a_stall() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 3)
    pipe.end = {p: e + 2000 for p, e in pipe.end.items()}  # a burst: 2,000 events per partition
    out = run(watch, pipe, 60, arrive=20, process=100)  # processed 5x faster than they arrive
    assert out == []


def test_consuming_slower_than_arrivals_fires() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 3)
    fired = run(watch, pipe, 30, arrive=20, process=15)
    assert [a.status for a in fired] == [AlertStatus.FIRING]


def test_worker_not_answering_fires_even_with_no_lag() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 5, arrive=0)
    pipe.answering = False
    assert run(watch, pipe, 4, arrive=0) == []
    fired = run(watch, pipe, 3, arrive=0)
    assert len(fired) == 1
    assert URL in fired[0].evidence.summary
    assert fired[0].evidence.values["unanswered_seconds"] >= 5


def test_recovery_resolves_once_after_catching_up_with_the_same_id() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 5)
    pipe.answering = False
    fired = run(watch, pipe, 20, process=0)
    pipe.answering = True
    catching_up = run(watch, pipe, 2, process=60)  # lag still there: not resolved yet
    rest = run(watch, pipe, 30)
    assert [a.status for a in fired] == [AlertStatus.FIRING]
    assert catching_up == []
    assert [a.status for a in rest] == [AlertStatus.RESOLVED]
    assert rest[0].alert_id == fired[0].alert_id == "-:pipeline_stalled:1"
    assert "caught up after" in rest[0].evidence.summary
    assert rest[0].evidence.values["stalled_seconds"] > 5


def test_a_second_stall_after_resolution_gets_the_next_number() -> None:
    watch, pipe = new_watch(), Pipeline()
    first = run(watch, pipe, 20, process=0) + run(watch, pipe, 20)
    second = run(watch, pipe, 20, process=0)
    assert [a.alert_id for a in first] == ["-:pipeline_stalled:1"] * 2
    assert [a.alert_id for a in second] == ["-:pipeline_stalled:2"]


def test_flapping_near_the_threshold_does_not_storm() -> None:
    """The worker stalls for just over, then just under, the limit, and catches up only briefly."""
    watch, pipe = new_watch(), Pipeline()
    out: list[Alert] = []
    for cycle in range(40):
        out += run(watch, pipe, 5 + cycle % 2, process=0)
        out += run(watch, pipe, 1)
    assert [a.status for a in out] == [AlertStatus.FIRING], "one alert, open while the worker keeps stalling"
    resolved = run(watch, pipe, 10)
    assert [(a.alert_id, a.status) for a in resolved] == [(out[0].alert_id, AlertStatus.RESOLVED)]


def test_health_answering_every_other_sample_does_not_storm() -> None:
    watch, pipe = new_watch(), Pipeline()
    out: list[Alert] = []
    for i in range(200):
        pipe.answering = i % 2 == 0
        out += watch.observe(pipe.step())
    assert out == []


def test_kafka_not_answering_neither_fires_nor_resolves_by_itself() -> None:
    watch, pipe = new_watch(), Pipeline()
    fired = run(watch, pipe, 20, process=0)
    blind = [
        watch.observe(Sample(pipe.t + i, T0 + timedelta(seconds=pipe.t + i), None, {URL: True}))
        for i in range(1, 30)
    ]
    assert len(fired) == 1
    assert all(m == [] for m in blind)
    assert watch.open is not None


def test_restart_while_firing_keeps_the_alert_open_and_its_id() -> None:
    first, pipe = new_watch(), Pipeline()
    fired = run(first, pipe, 20, process=0)
    restarted = new_watch()
    restarted.restore(fired[-1])
    still_stalled = run(restarted, pipe, 30, process=0)
    resolved = run(restarted, pipe, 10)
    assert still_stalled == [], "an alert still open is not fired again after a restart"
    assert [(a.alert_id, a.status) for a in resolved] == [("-:pipeline_stalled:1", AlertStatus.RESOLVED)]


def test_restart_after_resolution_continues_the_numbering() -> None:
    first, pipe = new_watch(), Pipeline()
    messages = run(first, pipe, 20, process=0) + run(first, pipe, 10)
    restarted = new_watch()
    restarted.restore(messages[-1])
    again = run(restarted, pipe, 20, process=0)
    assert [a.alert_id for a in again] == ["-:pipeline_stalled:2"]


def test_backlog_present_at_start_is_not_taken_for_caught_up() -> None:
    """After a restart the watchdog cannot know how old waiting events are: no early resolution."""
    first, pipe = new_watch(), Pipeline()
    fired = run(first, pipe, 20, process=0)
    restarted = new_watch()
    restarted.restore(fired[-1])
    assert run(restarted, pipe, 4, arrive=0, process=0) == []
    assert restarted.open is not None


ESCALATING = Limits(1.0, 5.0, 5.0, escalate_after=timedelta(seconds=30), max_escalation_level=3)


def test_unacknowledged_alert_escalates_on_the_rule_files_timing_up_to_the_limit() -> None:
    watch, pipe = new_watch(ESCALATING), Pipeline()
    out = run(watch, pipe, 200, process=0)
    assert [(a.status, a.escalation_level) for a in out] == [
        (AlertStatus.FIRING, 0),
        (AlertStatus.ESCALATED, 1),
        (AlertStatus.ESCALATED, 2),
        (AlertStatus.ESCALATED, 3),
    ]
    assert out[1].ts - out[0].ts == timedelta(seconds=30)


def ack(alert_id: str, kind: str = "ack") -> NurseAction:
    return NurseAction.model_validate(
        {"type": kind, "alert_id": alert_id, "patient_id": "-", "by": "rn-1", "ts": "2026-11-24T10:00:20Z"}
    )


def test_acknowledged_alert_stops_escalating_and_still_resolves() -> None:
    watch, pipe = new_watch(ESCALATING), Pipeline()
    fired = run(watch, pipe, 20, process=0)
    acked = watch.act(ack(fired[0].alert_id))
    again = watch.act(ack(fired[0].alert_id))
    later = run(watch, pipe, 120, process=0)
    resolved = run(watch, pipe, 10)
    assert [(a.status, a.by) for a in acked] == [(AlertStatus.ACKNOWLEDGED, "rn-1")]
    assert again == []
    assert later == []
    assert [a.status for a in resolved] == [AlertStatus.RESOLVED]


def test_actions_on_other_alerts_change_nothing() -> None:
    watch, pipe = new_watch(), Pipeline()
    run(watch, pipe, 20, process=0)
    assert watch.act(ack("-:pipeline_stalled:7")) == []
    assert watch.act(ack("pt-1-s1:fever:1")) == []
    assert watch.act(ack("-:pipeline_stalled:1", kind="note")) == []
