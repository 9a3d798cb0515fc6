"""The production clock: an event or nurse action timed ahead of its arrival is refused, no event
moves another patient's timers, late events are evaluated, and a poisoned stored state is repaired."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import faust

from agents.rules.timers import next_due
from agents.runtime import RulesRuntime
from models.alerts import Alert
from models.deadletter import DeadLetter
from models.state import PatientState, SessionState
from streams.apps.worker_app import Role, create_app
from streams.infra.settings import Settings
from tests.agents.conftest import RecordingTopic
from tests.agents.test_events_agent import agent


def event(patient: str, ts: datetime, **fields: object) -> bytes:
    base = {"patient_id": patient, "session_id": f"{patient}-s1", "ts": ts.isoformat()}
    return json.dumps({**base, **fields}).encode()


def runtime_of(app: faust.App) -> RulesRuntime:
    runtime: RulesRuntime = app.runtime  # type: ignore[attr-defined]
    return runtime


def sent(topic: object) -> list[bytes]:
    return [value for _, value in topic.sent]  # type: ignore[attr-defined]


def dead_reasons(app: faust.App) -> list[str]:
    return [DeadLetter.model_validate_json(v).errors[0] for v in sent(runtime_of(app).deadletter_topic)]


def alerts(app: faust.App) -> list[Alert]:
    return [Alert.model_validate_json(v) for v in sent(runtime_of(app).alerts_topic)]


async def test_events_timed_ahead_of_their_arrival_are_refused_and_move_no_clock(
    rules_app: faust.App,
) -> None:
    now = datetime.now(UTC)
    runtime = runtime_of(rules_app)
    async with agent(rules_app, "watch_events").test_context() as ctx:
        # (the care schedule's set before the start: no set is due until 15 minutes after it)
        await ctx.put(event("pt-2", now - timedelta(minutes=5), type="vitals", spo2=97), key=b"pt-2")
        await ctx.put(event("pt-2", now, type="infusion", action="start", rate_ml_per_h=50), key=b"pt-2")
        await ctx.put(event("pt-2", now, type="vitals", spo2=90), key=b"pt-2")
        await ctx.put(event("pt-1", datetime(2099, 1, 1, tzinfo=UTC), type="vitals", spo2=97), key=b"pt-1")
        await ctx.put(event("pt-1", now + timedelta(hours=1), type="vitals", spo2=97), key=b"pt-1")
        # A record stamped by a producer whose clock is wrong too: the arrival is never after now.
        await ctx.put(
            event("pt-1", now + timedelta(hours=1), type="vitals", spo2=97),
            key=b"pt-1",
            timestamp=(now + timedelta(hours=1)).timestamp(),
        )
        # Within the allowed skew (a device a little ahead): taken.
        await ctx.put(event("pt-3", now + timedelta(minutes=2), type="vitals", spo2=97), key=b"pt-3")
    assert (
        dead_reasons(rules_app)
        == ["(ts): timed more than 5 min ahead of its arrival [ts_ahead_of_arrival]"] * 3
    )
    assert runtime.clock.now() < now + timedelta(minutes=1)
    assert runtime.load("pt-1") is None  # nothing of the refused events was kept
    assert runtime.load("pt-3") is not None
    # The other patient's lone low SpO2 waits for its repeat: the refused events fire none of its
    # timers (it is not paged as unconfirmed ahead of its time).
    assert [(a.condition.value, a.status.value, a.pending) for a in alerts(rules_app)] == [
        ("hypoxemia", "firing", True)
    ]
    open_alert = runtime.load("pt-2").sessions["pt-2-s1"].alerts["hypoxemia"]  # type: ignore[union-attr]
    assert open_alert.confirm_due is not None
    assert open_alert.confirm_due > datetime.now(UTC) + timedelta(minutes=2)  # due as set


async def test_a_backlog_is_measured_against_its_record_time_and_late_events_are_evaluated(
    rules_app: faust.App,
) -> None:
    now = datetime.now(UTC)
    an_hour_ago = (now - timedelta(hours=1)).timestamp()
    async with agent(rules_app, "watch_events").test_context() as ctx:
        # Uploaded an hour late, from a device whose clock was right: evaluated.
        await ctx.put(
            event("pt-4", now - timedelta(hours=1), type="vitals", spo2=90),
            key=b"pt-4",
            timestamp=an_hour_ago,
        )
        # Timed 30 minutes after the record that carried it arrived: the device clock was wrong.
        await ctx.put(
            event("pt-5", now - timedelta(minutes=30), type="vitals", spo2=90),
            key=b"pt-5",
            timestamp=an_hour_ago,
        )
    assert dead_reasons(rules_app) == [
        "(ts): timed more than 5 min ahead of its arrival [ts_ahead_of_arrival]"
    ]
    assert [(a.patient_id, a.condition.value) for a in alerts(rules_app) if a.status.value == "firing"] == [
        ("pt-4", "hypoxemia")
    ]


async def test_a_nurse_action_timed_in_the_future_is_refused(rules_app: faust.App) -> None:
    now = datetime.now(UTC)
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(event("pt-1", now, type="vitals", spo2=90), key=b"pt-1")
    ack = {"type": "ack", "alert_id": "pt-1-s1:hypoxemia:1", "patient_id": "pt-1", "by": "rn-2"}
    async with agent(rules_app, "watch_actions").test_context() as ctx:
        await ctx.put(json.dumps({**ack, "ts": "2099-01-01T00:00:00Z"}).encode(), key=b"pt-1")
        await ctx.put(json.dumps({**ack, "ts": now.isoformat()}).encode(), key=b"pt-1")
    assert dead_reasons(rules_app) == [
        "(ts): timed more than 5 min ahead of its arrival [ts_ahead_of_arrival]"
    ]
    assert [a.status.value for a in alerts(rules_app) if a.condition.value != "incident"] == [
        "firing",
        "acknowledged",
    ]


def test_a_stored_state_with_a_clock_in_2099_is_repaired_and_its_timers_work_again(
    rules_app: faust.App,
) -> None:
    runtime = runtime_of(rules_app)
    now = datetime.now(UTC)
    silent_since = now - timedelta(minutes=45)
    poisoned = PatientState(patient_id="pt-9", clock=datetime(2099, 1, 1, tzinfo=UTC))
    session = SessionState(session_id="pt-9-s1", first_ts=silent_since, start_ts=silent_since)
    session.last_vitals_ts = datetime(2099, 1, 1, tzinfo=UTC)
    poisoned.sessions["pt-9-s1"] = session
    runtime.table.data[b"pt-9"] = poisoned.model_dump_json().encode()  # as a changelog recovery would
    state = runtime.load("pt-9")
    assert state is not None and state.clock is not None and state.clock <= datetime.now(UTC)
    assert state.sessions["pt-9-s1"].last_vitals_ts is None  # no real reading: stale since the start
    assert runtime.counts["repaired"] == 1
    due = next_due(state, runtime.rules)
    assert due is not None and due <= datetime.now(UTC)  # silent for 45 minutes: stale data is due now


async def test_the_simulated_clock_takes_accelerated_events(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
        influx_url="http://127.0.0.1:1",
        simulated_clock=True,
    )
    app = create_app(Role.RULES, settings, store="memory://")
    app.finalize()
    app.conf.store = "memory://"
    app.flow_control.resume()
    runtime = runtime_of(app)
    runtime.alerts_topic, runtime.deadletter_topic = RecordingTopic(), RecordingTopic()
    runtime.table.use_partitioner = False
    ahead = datetime.now(UTC) + timedelta(hours=3)
    async with agent(app, "watch_events").test_context() as ctx:
        await ctx.put(event("pt-1", ahead, type="vitals", spo2=90), key=b"pt-1", timestamp=time.time())
    assert sent(runtime.deadletter_topic) == []
    assert runtime.clock.now() >= ahead


async def replay_backlog(app: faust.App, stamped: bool) -> list[Alert]:
    """An infusion's last hour arriving as a backlog after a restart, on partition 0, its records
    stamped when they were produced (`stamped`) or not stamped at all (they arrive now)."""
    start = datetime.now(UTC) - timedelta(hours=1)

    def stamp(ts: datetime) -> float | None:
        return ts.timestamp() if stamped else None

    async with agent(app, "watch_events").test_context() as ctx:
        await ctx.put(
            event("pt-7", start, type="infusion", action="start", rate_ml_per_h=50),
            key=b"pt-7",
            partition=0,
            timestamp=stamp(start),
        )
        for minutes in range(0, 60, 10):
            ts = start + timedelta(minutes=minutes)
            await ctx.put(
                event("pt-7", ts, type="vitals", heart_rate=72, spo2=97, temperature_c=36.8),
                key=b"pt-7",
                partition=0,
                timestamp=stamp(ts),
            )
    return alerts(app)


async def test_a_backlog_is_evaluated_at_its_arrival_times(rules_app: faust.App) -> None:
    """A partition catching up runs its patients on its own arrivals: readings every ten minutes
    are no silence, however late they are processed."""
    sent = await replay_backlog(rules_app, stamped=True)
    assert [a.condition.value for a in sent if a.condition.value == "stale_data"] == []
    assert runtime_of(rules_app).clocks[0] < datetime.now(UTC) - timedelta(minutes=9)


async def test_the_same_backlog_arriving_now_is_silence(rules_app: faust.App) -> None:
    """What evaluating at the arrival prevents: the same records evaluated at the wall clock (as
    every event was before) see an hour-old start with its readings not yet read."""
    sent = await replay_backlog(rules_app, stamped=False)
    assert "stale_data" in [a.condition.value for a in sent]


async def test_one_partition_arrivals_move_no_other_partition_clock(rules_app: faust.App) -> None:
    runtime = runtime_of(rules_app)
    now = datetime.now(UTC)
    earlier = now - timedelta(minutes=40)
    before = earlier - timedelta(minutes=5)  # the care schedule's set before the start
    async with agent(rules_app, "watch_events").test_context() as ctx:
        await ctx.put(
            event("pt-8", before, type="vitals", spo2=97, heart_rate=70),
            key=b"pt-8",
            partition=0,
            timestamp=before.timestamp(),
        )
        await ctx.put(
            event("pt-8", earlier, type="infusion", action="start", rate_ml_per_h=50),
            key=b"pt-8",
            partition=0,
            timestamp=earlier.timestamp(),
        )
        await ctx.put(
            event("pt-9", now, type="vitals", spo2=97), key=b"pt-9", partition=1, timestamp=now.timestamp()
        )
        late = earlier + timedelta(minutes=10)
        await ctx.put(
            event("pt-8", late, type="vitals", spo2=97, heart_rate=70),
            key=b"pt-8",
            partition=0,
            timestamp=late.timestamp(),
        )
    assert runtime.clocks[0] == late and runtime.clocks[1] == now
    assert "stale_data" not in [a.condition.value for a in alerts(rules_app)]


def test_a_lagging_partition_ticks_on_its_own_clock_a_caught_up_one_on_the_settled_clock(
    rules_app: faust.App,
) -> None:
    runtime = runtime_of(rules_app)
    settled = datetime.now(UTC)
    own = settled - timedelta(minutes=30)
    runtime.clocks[0] = own
    runtime.processed(0, 99)
    assert runtime.tick_time(0, end=500, committed=None, settled=settled) == own  # lagging
    assert runtime.tick_time(0, end=100, committed=None, settled=settled) == settled  # at its end
    # Nothing processed since the assignment: the committed offset says where it stands.
    assert runtime.tick_time(1, end=40, committed=40, settled=settled) == settled
    assert runtime.tick_time(1, end=40, committed=10, settled=settled) is None  # lagging, no clock yet
    assert runtime.tick_time(1, end=None, committed=None, settled=settled) is None  # end unknown yet
    runtime.forget_all()  # a rebalance: what this worker processed stays processed
    assert runtime.tick_time(0, end=100, committed=60, settled=settled) == settled
    assert runtime.tick_time(0, end=140, committed=60, settled=settled) is None  # lagging, no clock yet
