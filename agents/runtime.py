"""What the rule agents share: the rule set, the patient-state table, the live clock and outputs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust

from agents.deadletters import send_dead_letter
from agents.due_index import DueIndex
from agents.live_clock import LiveClock, WallClock
from agents.rules.engine import advance, new_state, process
from agents.rules.patient_channel import to_patient
from agents.rules.repair import repair_future
from agents.rules.timers import known_next_due
from models.alerts import Alert
from models.events import SETTING_TYPES, Event, NurseAction
from models.parsing import InvalidMessage, key_problem, time_problem
from models.patient_messages import PatientMessage
from models.ruleset import RuleSet
from models.state import PatientState
from streams.infra.kafka.topics import partition_of
from streams.infra.metrics import rules_metrics as metrics
from streams.infra.settings import Settings

log = logging.getLogger("ivigwatch.rules")

STATE_BYTES = 10_000
"""A live state's memory besides its readings (measured: ~9 KB with one session mid-infusion, its
indexes and recent event ids), for the live states' budget."""
READING_BYTES = 200
"""A reading's memory in a live state (~110 bytes as a slotted dataclass whose values dict it shares
with readings of equal values, ~340 with a dict of its own), with its minute index."""
LIVE_MB: int = Settings.model_fields["live_states_mb"].default
"""The live states' memory budget as the settings declare it (IVIGWATCH_LIVE_STATES_MB), estimated as
STATE_BYTES + READING_BYTES per reading: 10,000 patients with a few dozen readings each, or ~900
continuously monitored ones (a thinned 1 Hz session holds ~1,300 after an hour). Changed states
count too and stay until their checkpoint, however many."""


@dataclass(frozen=True, slots=True)
class Held:
    """A record processed since the last checkpoint: acked (its offset committable) only once the
    messages it caused are acknowledged and the state it changed is stored."""

    stream: Any
    event: Any
    taken: tuple[Event | NurseAction, datetime] | None
    """What the rules took and the clock they took it at (None: dead-lettered)."""


@dataclass
class RulesRuntime:
    rules: RuleSet
    table: Any
    alerts_topic: Any
    deadletter_topic: Any
    patient_topic: Any = None
    """`ivig.patient.v1`: what the patient's app shows (None: not sent, as in unit tests)."""
    clock: LiveClock = field(default_factory=WallClock)
    max_skew: timedelta | None = None
    """How far ahead of its arrival an event or action may be timed; None (simulated clock only):
    no bound, and stored states are not repaired."""
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "events",
                "actions",
                "alerts",
                "patient_messages",
                "deadletter",
                "new_patients",
                "repaired",
                "skipped",
                "checkpoints",
            ),
            0,
        )
    )
    live: OrderedDict[str, PatientState] = field(default_factory=OrderedDict)
    """Live states of the most recently active patients, so their next event costs no JSON parse.
    The table stays the truth: every change is still assigned back to it (and so reaches the
    changelog), and the cache is emptied on every rebalance, so a state moved between workers is
    reloaded from the table. Bounded by `live_budget`: a live state takes ~3x its JSON in memory."""
    live_budget: int = LIVE_MB * 1_000_000
    """The live states' memory budget in bytes, estimated (`live_size`)."""
    held_size: dict[str, int] = field(default_factory=dict)
    """Per live patient, its state's estimated memory when it was last kept."""
    live_size: int = 0
    due: dict[int, DueIndex] = field(default_factory=dict)
    """Per events partition, when each of its patients next has a timer due."""
    clocks: dict[int, datetime] = field(default_factory=dict)
    """Per events partition, the latest arrival it has delivered since it was assigned: its
    patients' events are evaluated at this time, and while it lags its timers run on it."""
    positions: dict[int, int] = field(default_factory=dict)
    """Per events partition, the next offset to process (known once one was processed since the
    partition was assigned)."""
    committed_offset: Callable[[int], int | None] = field(default=lambda _partition: None)
    """The group's committed offset of an events partition as the consumer knows it: where the
    partition's first record after an assignment must be."""
    checkpoint_events: int = 2000
    """Records taken at most between two checkpoints (besides the checkpoint timer's interval)."""
    dirty: dict[str, int] = field(default_factory=dict)
    """Patients whose live state changed since the last checkpoint, and their events partition."""
    held: list[Held] = field(default_factory=list)
    pending: list[asyncio.Future[Any]] = field(default_factory=list)
    """Deliveries handed to the producer since the last checkpoint, acknowledged at it."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Taken by each record's processing, each tick of a patient and the checkpoint: a checkpoint
    never stores a state whose messages are not all handed to the producer."""

    def load(self, patient_id: str) -> PatientState | None:
        state = self.live.get(patient_id)
        if state is not None:
            self.live.move_to_end(patient_id)
            return state
        raw = self.table.get(patient_id.encode())
        if raw is None:
            return None
        state = PatientState.model_validate_json(raw)
        if self.max_skew is not None and repair_future(state, self.clock.now(), self.max_skew):
            log.warning("patient state with a clock ahead of real time repaired (timers re-armed)")
            self.counts["repaired"] += 1
        return state

    def store(self, state: PatientState, partition: int) -> None:
        """Keep the state and store it in the table at once (the synchronous path: `evaluate`)."""
        self.keep(state, partition)
        self._write(state)

    def keep(self, state: PatientState, partition: int) -> None:
        """Keep the changed state live; the next checkpoint stores it."""
        self._hold(state)
        self.dirty[state.patient_id] = partition
        self.due_index(partition).update(state.patient_id, known_next_due(state, self.rules))
        self._trim_live()

    def _write(self, state: PatientState) -> None:
        # Assign back: a mutated value that is not re-assigned never reaches the changelog.
        self.table[state.patient_id.encode()] = state.model_dump_json().encode()
        self.dirty.pop(state.patient_id, None)

    def _hold(self, state: PatientState) -> None:
        """Keep the state live, as the most recent, counting its estimated memory."""
        patient_id = state.patient_id
        self.live[patient_id] = state
        self.live.move_to_end(patient_id)
        size = STATE_BYTES + READING_BYTES * sum(len(session.readings) for session in state.sessions.values())
        self.live_size += size - self.held_size.get(patient_id, 0)
        self.held_size[patient_id] = size

    def _drop_live(self, patient_id: str) -> None:
        self.live.pop(patient_id, None)
        self.live_size -= self.held_size.pop(patient_id, 0)

    def _trim_live(self) -> None:
        """Down to the budget, oldest first, never a state the table does not hold yet: the changed
        ones are the newest (every change moves its state to the end), so the scan stops at the
        first of them instead of walking them all on every event until the checkpoint."""
        over = self.live_size - self.live_budget
        victims: list[str] = []
        for patient_id in self.live:
            if over <= 0 or patient_id in self.dirty:
                break
            victims.append(patient_id)
            over -= self.held_size.get(patient_id, 0)
        for patient_id in victims:
            self._drop_live(patient_id)

    async def checkpoint(self) -> None:
        """Wait for every delivery since the last checkpoint, store each changed state once, then
        ack the records they cover so that their offsets may be committed (Faust flushes the
        changelog writes before it commits)."""
        async with self.lock:
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        if not (self.pending or self.dirty or self.held):
            return
        began = time.perf_counter()
        pending, self.pending = self.pending, []
        if pending:
            await asyncio.gather(*pending)
        for patient_id in list(self.dirty):
            state = self.live.get(patient_id)
            if state is not None:
                self._write(state)
        self.dirty.clear()
        held, self.held = self.held, []
        for record in held:
            await record.stream.ack(record.event)
        self._trim_live()
        self.counts["checkpoints"] += 1
        metrics.CHECKPOINT_SECONDS.observe(time.perf_counter() - began)

    def due_index(self, partition: int) -> DueIndex:
        index = self.due.get(partition)
        if index is None:
            index = self.due[partition] = DueIndex()
        return index

    def forget_all(self) -> None:
        """Partitions were revoked or assigned: live states, due times and partition clocks are
        reloaded or learnt again (a partition is re-read from its committed offset). Positions are
        kept: a record this worker processed just before a rebalance, not yet committed, may be
        dropped by Faust when the partition is read again, and is no lost event. (Faust waits for
        every record to be acked before a revocation, so the checkpoint timer has stored every
        changed state by then; what is left, if anything, is read again and redone.)"""
        self.live.clear()
        self.held_size.clear()
        self.live_size = 0
        self.due.clear()
        self.clocks.clear()
        self.dirty.clear()
        self.held.clear()

    def evaluate(
        self, item: Event | NurseAction, partition: int = 0, arrival: datetime | None = None
    ) -> list[Alert]:
        """Run one event or action through the engine and persist the state (no await: atomic)."""
        state, alerts = self.decide(item, partition, arrival)
        if state is not None:
            self.store(state, partition)
        return alerts

    def processed(self, partition: int, offset: int) -> None:
        """An events record was processed; one past the next expected offset means records between
        were never delivered to the rules (counted as `skipped` and logged: a lost event)."""
        known = [
            o for o in (self.positions.get(partition), self.committed_offset(partition)) if o is not None
        ]
        expected = max(known, default=None)
        if expected is not None and offset > expected:
            self.counts["skipped"] += offset - expected
            metrics.SKIPPED_OFFSETS.inc(offset - expected)
            log.error(
                "events partition %d: offsets %d-%d were never delivered to the rules",
                partition,
                expected,
                offset - 1,
            )
        self.positions[partition] = max(offset + 1, self.positions.get(partition, 0))

    def tick_time(
        self, partition: int, end: int | None, committed: int | None, settled: datetime
    ) -> datetime | None:
        """The time a partition's timers run to on a tick: the settled clock once the partition has
        processed everything up to its end offset `end`; while it lags, its own latest arrival (a
        partition catching up after a restart must not see silence where its backlog still holds
        the readings); None while it lags and has delivered nothing yet."""
        position = self.positions.get(partition, committed)
        if end is not None and position is not None and position >= end:
            return settled
        own = self.clocks.get(partition)
        return None if own is None else min(own, settled)

    def decide(
        self, item: Event | NurseAction, partition: int = 0, arrival: datetime | None = None
    ) -> tuple[PatientState | None, list[Alert]]:
        """Run one event or action through the engine; the caller stores the state (None: nothing
        to store, a nurse action for an unknown patient)."""
        return self._decide(item, self.clock_for(item, partition, arrival))

    def clock_for(self, item: Event | NurseAction, partition: int, arrival: datetime | None) -> datetime:
        """The clock an event or action is evaluated at.

        An event moves its partition's clock to its arrival and is evaluated at that clock, as
        replay evaluates a line at the latest arrival before it: a partition that lags behind the
        others never has its patients' timers fired by their arrivals. A nurse action is evaluated
        at its own arrival and moves no clock.
        """
        self.clock.observe(item.ts)
        arrived = self.clock.arrival(item.ts, None) if arrival is None else arrival
        if isinstance(item, NurseAction):
            return arrived
        own = self.clocks.get(partition)
        now = self.clocks[partition] = arrived if own is None else max(own, arrived)
        return now

    def _decide(self, item: Event | NurseAction, now: datetime) -> tuple[PatientState | None, list[Alert]]:
        state = self.load(item.patient_id)
        if state is None:
            if isinstance(item, NurseAction) and item.type not in SETTING_TYPES:
                return None, []
            state = new_state(item.patient_id)
            self.counts["new_patients"] += 1
        try:
            return state, process(state, item, now, self.rules)
        except Exception:
            # The live state may be half-changed: back to the last good one.
            self.redo(item.patient_id)
            raise

    def redo(self, patient_id: str) -> None:
        """Rebuild a patient's live state: the table's, with the records taken since the last
        checkpoint applied again at their clocks (what they sent is sent already: dropped)."""
        self._drop_live(patient_id)
        records = [r.taken for r in self.held if r.taken is not None and r.taken[0].patient_id == patient_id]
        if not records:
            self.dirty.pop(patient_id, None)
            return
        state = self.load(patient_id)
        for item, now in records:
            if state is None:
                if isinstance(item, NurseAction) and item.type not in SETTING_TYPES:
                    continue
                state = new_state(patient_id)
            to_patient(state, process(state, item, now, self.rules), self.rules)
        if state is not None:
            self._hold(state)

    async def consume(self, stream: Any, parse: Callable[[bytes], Event | NurseAction], stage: str) -> None:
        """The agents' loop: validate, dead-letter what breaks the contract, evaluate, deliver.

        A message that breaks the contract, or that the rules fail on, goes to the dead-letter topic
        with its reason and position; the loop carries on with the next one. Records are acked by
        the checkpoint that covers them, never before.
        """
        manual = stream.noack()
        async for event in manual.events():
            raw, key, message = event.value, event.key, event.message
            async with self.lock:
                try:
                    taken = await self._consume_one(raw, key, message, parse, stage)
                finally:
                    if stage == "validate":
                        self.processed(message.partition, message.offset)
                self.held.append(Held(manual, event, taken))
                if len(self.held) >= self.checkpoint_events:
                    await self._checkpoint()

    async def _consume_one(
        self,
        raw: bytes,
        key: bytes | None,
        message: Any,
        parse: Callable[[bytes], Event | NurseAction],
        stage: str,
    ) -> tuple[Event | NurseAction, datetime] | None:
        """One message: validate, dead-letter what breaks the contract, evaluate, hand the messages
        it causes to the producer. Returns what the rules took and their clock (None: dead-lettered)."""
        try:
            item = parse(raw)
            arrival = self.clock.arrival(item.ts, getattr(message, "timestamp", None))
            errors = key_problem(key, item.patient_id) or self.ahead_of_arrival(item, arrival)
        except InvalidMessage as exc:
            errors = exc.errors
        if errors:
            await self.dead_letter(raw, key, errors, stage, message)
            return None
        self.counts["events" if stage == "validate" else "actions"] += 1
        processed = metrics.EVENTS_PROCESSED if stage == "validate" else metrics.ACTIONS_PROCESSED
        processed.labels(type=item.type).inc()
        now = self.clock_for(item, message.partition, arrival)
        try:
            state, alerts = self._decide(item, now)
        except Exception as exc:  # a rule bug must not stop every other patient's alerts
            log.exception(
                "rule evaluation failed at %s[%d]@%d", message.topic, message.partition, message.offset
            )
            reason = f"(rules): {type(exc).__name__} while evaluating [rule_error]"
            await self.dead_letter(raw, key, [reason], "rules", message)
            return None
        # Alerts first, state second: the checkpoint stores the state only once they are
        # acknowledged, so a crash before it redelivers the event to the old state, which fires the
        # alert again (a duplicate), never one lost behind a stored state that already counts it.
        try:
            await self.send_alerts(alerts)
            if state is not None:
                await self.send_patient(to_patient(state, alerts, self.rules))
        except BaseException:
            self.redo(item.patient_id)
            raise
        observe_latency(alerts, getattr(message, "timestamp", None))
        if state is not None:
            self.keep(state, message.partition)
        return item, now

    def ahead_of_arrival(self, item: Event | NurseAction, arrival: datetime) -> list[str]:
        """An event or action timed too far ahead of its arrival (the record's timestamp)."""
        if self.max_skew is None:
            return []
        return time_problem(item.ts, arrival, self.max_skew)

    async def tick(self, patient_id: str, partition: int, now: datetime) -> list[Alert]:
        """Fire the timers of one patient (of events partition `partition`) that are due by `now`."""
        async with self.lock:
            state = self.load(patient_id)
            if state is None:
                return []
            alerts = advance(state, now, self.rules)
            try:
                await self.send_alerts(alerts)  # before the state, as in consume()
                await self.send_patient(to_patient(state, alerts, self.rules))
            except BaseException:
                self.redo(patient_id)
                raise
            self.keep(state, partition)  # also when silent: a session past post-late may have been dropped
            return alerts

    async def send_alerts(self, alerts: list[Alert]) -> None:
        """Hand them to the producer; the checkpoint waits for the broker's acks before it stores
        the state and lets the source offsets be committed."""
        for alert in alerts:
            fut = await self.alerts_topic.send(
                key=alert.patient_id.encode(), value=alert.model_dump_json().encode()
            )
            self.pending.append(fut)
            self.counts["alerts"] += 1
            metrics.ALERTS_SENT.labels(
                condition=alert.condition.value, severity=alert.severity.value, status=alert.status.value
            ).inc()
            if alert.page:
                metrics.PAGES_SENT.labels(severity=alert.severity.value).inc()
            log.info(
                "alert %s %s %s level=%d",
                alert.alert_id,
                alert.status.value,
                alert.severity.value,
                alert.escalation_level,
            )

    async def send_patient(self, messages: list[PatientMessage]) -> None:
        """After the alert messages they follow (a nurse's page is never behind the patient's
        message); acknowledged at the checkpoint like them."""
        if self.patient_topic is None:
            return
        for message in messages:
            fut = await self.patient_topic.send(
                key=message.patient_id.encode(), value=message.model_dump_json().encode()
            )
            self.pending.append(fut)
            self.counts["patient_messages"] += 1

    async def dead_letter(
        self, raw: bytes, key: bytes | None, errors: list[str], stage: str, message: Any
    ) -> None:
        await send_dead_letter(self.deadletter_topic, raw, key, errors, stage, message)
        self.counts["deadletter"] += 1


class PatientTable(faust.Table):  # type: ignore[misc]
    """The patient-state table. A key's changelog partition is computed as producers place the
    events (murmur2), not by the producer from its metadata cache: after a worker rejoined its
    group that cache may not know the changelog topic yet, and Faust then failed the write with a
    TypeError that stopped the agent (seen with a frozen worker, SIGSTOP then SIGCONT)."""

    def partition_for_key(self, key: Any) -> int:
        return partition_of(key, self.partitions)


def patient_table(app: faust.App, partitions: int) -> Any:
    """Per-patient rule state, keyed like the topics (raw patient_id bytes) so it co-partitions."""
    table = PatientTable(
        app,
        name="patient-state",
        default=None,
        beacon=app.tables.beacon,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,  # bytes -> the raw codec, same key bytes as the events
        use_partitioner=True,
    )
    return app.tables.add(table)


def observe_latency(alerts: list[Alert], record_ts: float | None) -> None:
    """Each alert's time from its event's arrival (the Kafka record's timestamp, epoch seconds) to now."""
    if not alerts or not isinstance(record_ts, int | float) or not record_ts:
        return
    waited = max(0.0, time.time() - record_ts)
    for alert in alerts:
        metrics.ALERT_LATENCY.labels(severity=alert.severity.value).observe(waited)
