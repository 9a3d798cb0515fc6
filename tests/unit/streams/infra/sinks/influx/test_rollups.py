"""The writer's 1-minute rollups, pure: what a minute's point holds, which minutes must be read back
from InfluxDB, and the read-back's query and answer."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.events import VITAL_NAMES, Vitals
from models.parsing import parse_event
from streams.infra.sinks.influx.influx_schema import rollup_fields
from streams.infra.sinks.influx.rollups import (
    MINUTE_MS,
    MinuteRollup,
    ReadBack,
    RollupBook,
    raw_points_query,
    read_backs,
    rollup_line,
    rollups_from_series,
)

MINUTE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MINUTE_START_MS = int(MINUTE.timestamp() * 1000)


def reading(
    seconds: float, patient: str = "pt-a", session: str = "pt-a-d1", device: str | None = None, **values: Any
) -> Vitals:
    event = {
        "type": "vitals",
        "patient_id": patient,
        "session_id": session,
        "ts": (MINUTE + timedelta(seconds=seconds)).isoformat(),
        **({"device_id": device} if device else {}),
        **values,
    }
    parsed = parse_event(json.dumps(event))
    assert isinstance(parsed, Vitals)
    return parsed


def known_book(*keys: tuple[str, str, int]) -> RollupBook:
    """A book that holds these minutes (empty), as after a read-back that found nothing yet."""
    book = RollupBook()
    book.load({key: MinuteRollup() for key in keys})
    return book


KEY = ("pt-a", "pt-a-d1", MINUTE_START_MS)


def test_a_minute_holds_mean_min_max_of_each_vital_and_the_number_of_readings() -> None:
    book = known_book(KEY)
    update = book.add(
        [
            reading(5, device="oxi", heart_rate=80, spo2=97, temperature_c=36.8),
            reading(20, device="oxi", heart_rate=90, spo2=95),
            reading(50, device="cuff", heart_rate=100, spo2=96, on_oxygen=True),
        ]
    )
    assert (update.touched, update.unknown) == ({KEY}, set())
    rollup = book.get(KEY)
    assert rollup is not None
    assert rollup.fields() == {
        "heart_rate_mean": 90.0,
        "heart_rate_min": 80.0,
        "heart_rate_max": 100.0,
        "temperature_c_mean": 36.8,
        "temperature_c_min": 36.8,
        "temperature_c_max": 36.8,
        "spo2_mean": 96.0,
        "spo2_min": 95.0,
        "spo2_max": 97.0,
        "readings": 3,
    }
    assert isinstance(rollup.fields()["readings"], int)


def test_the_fields_are_the_backfills_in_its_order_and_a_vital_no_reading_carried_is_absent() -> None:
    rollup = MinuteRollup()
    every = dict.fromkeys(VITAL_NAMES, 50.0)
    assert rollup.add("", 0, every)
    assert list(rollup.fields()) == [dst for _, _, dst in rollup_fields()]
    other = MinuteRollup()
    other.add("", 0, {"spo2": 97.0})
    assert list(other.fields()) == ["spo2_mean", "spo2_min", "spo2_max", "readings"]


def test_the_rollup_line_is_the_minutes_point_in_vitals_1m() -> None:
    book = known_book(KEY)
    book.add([reading(5, heart_rate=80), reading(6, heart_rate=81.5)])
    rollup = book.get(KEY)
    assert rollup is not None
    assert rollup_line(KEY, rollup) == (
        "vitals_1m,patient_id=pt-a,session_id=pt-a-d1 heart_rate_mean=80.75,heart_rate_min=80.0,"
        f"heart_rate_max=81.5,readings=2i {MINUTE_START_MS}"
    )
    odd = rollup_line(("a b", "c,d=e", 0), rollup)  # escaped as the client library escapes tags
    assert odd.startswith("vitals_1m,patient_id=a\\ b,session_id=c\\,d\\=e heart_rate_mean=")


def test_a_minute_first_seen_is_unknown_until_read_back_and_then_counted_in_memory() -> None:
    book = RollupBook()
    first = book.add([reading(1, heart_rate=70), reading(2, session="pt-a-d2", heart_rate=71)])
    other = ("pt-a", "pt-a-d2", MINUTE_START_MS)
    assert first.unknown == first.touched == {KEY, other}
    assert book.get(KEY) is None and len(book) == 0
    read = MinuteRollup()
    read.add("", 1000, {"heart_rate": 70.0})
    book.load({KEY: read})
    second = book.add([reading(3, heart_rate=76)])
    assert (second.touched, second.unknown) == ({KEY}, set())
    assert book.get(KEY) is read and read.fields()["heart_rate_mean"] == 73.0
    assert read.fields()["readings"] == 2


def test_a_point_already_counted_makes_its_minute_unknown_whatever_else_the_batch_holds() -> None:
    """InfluxDB keeps one point per device and millisecond (a redelivered message, or a second reading
    in the same millisecond that overwrote the first): memory cannot know which values it kept."""
    book = known_book(KEY)
    book.add([reading(1, device="oxi", heart_rate=70)])
    again = book.add(
        [reading(2, heart_rate=72), reading(1, device="oxi", heart_rate=99), reading(3, spo2=97)]
    )
    assert (again.touched, again.unknown) == ({KEY}, {KEY})
    assert book.get(KEY) is None
    # the same millisecond from another device is another point
    book = known_book(KEY)
    assert book.add([reading(1, device="oxi", spo2=97), reading(1, device="cuff", spo2=96)]).unknown == set()


def test_minutes_older_than_the_memory_are_dropped_and_a_late_reading_there_is_unknown() -> None:
    book = known_book(KEY)
    book.add([reading(1, heart_rate=70)])
    late_key = ("pt-a", "pt-a-d1", MINUTE_START_MS + 15 * MINUTE_MS)
    book.load({late_key: MinuteRollup()})
    book.add([reading(15 * 60 + 1, heart_rate=70)])
    assert book.evict() == 0  # 15 minutes back is still held
    assert book.get(KEY) is not None
    book.load({(*late_key[:2], late_key[2] + MINUTE_MS): MinuteRollup()})
    book.add([reading(16 * 60, heart_rate=71)])
    assert book.evict() == 1 and book.evict() == 0
    assert book.get(KEY) is None and book.horizon() == MINUTE_START_MS + MINUTE_MS
    assert book.add([reading(30, heart_rate=72)]).unknown == {KEY}


def test_forget_drops_every_minute() -> None:
    book = known_book(KEY)
    book.forget()
    assert len(book) == 0 and book.add([reading(1, heart_rate=70)]).unknown == {KEY}


def test_read_backs_group_sessions_by_their_span_of_minutes() -> None:
    keys = {("p", f"s{i:03}", MINUTE_START_MS) for i in range(250)}
    keys |= {("q", "late", MINUTE_START_MS - 3 * MINUTE_MS), ("q", "late", MINUTE_START_MS - MINUTE_MS)}
    queries = read_backs(keys)
    assert [len(q.sessions) for q in queries] == [1, 100, 100, 50]
    assert queries[0] == ReadBack(("late",), MINUTE_START_MS - 3 * MINUTE_MS, MINUTE_START_MS)
    assert {(q.start_ms, q.end_ms) for q in queries[1:]} == {(MINUTE_START_MS, MINUTE_START_MS + MINUTE_MS)}
    assert sorted(s for q in queries[1:] for s in q.sessions) == sorted(k[1] for k in keys if k[0] == "p")


def test_the_read_back_query_selects_the_raw_points_per_device() -> None:
    query = raw_points_query("ivig", ReadBack(("s1", "o'k"), MINUTE_START_MS, MINUTE_START_MS + MINUTE_MS))
    assert query.startswith('SELECT "heart_rate", "systolic_bp"')
    assert '"weight_kg", "on_oxygen" FROM "ivig"."autogen"."vitals" ' in query
    assert query.endswith(
        "WHERE (\"session_id\" = 's1' OR \"session_id\" = 'o\\'k') AND time >= '2026-03-02T09:30:00.000000Z' "
        'AND time < \'2026-03-02T09:31:00.000000Z\' GROUP BY "patient_id", "session_id", "device_id"'
    )


def series(device: str, rows: list[list[Any]], session: str = "pt-a-d1") -> dict[str, Any]:
    columns = ["time", *VITAL_NAMES, "on_oxygen"]
    return {
        "name": "vitals",
        "tags": {"patient_id": "pt-a", "session_id": session, "device_id": device},
        "columns": columns,
        "values": [[ts, *[values.get(n) for n in VITAL_NAMES], False] for ts, values in rows],
    }


def test_a_read_back_answer_gives_the_wanted_minutes_as_memory_would_have_counted_them() -> None:
    answer = [
        series("oxi", [[MINUTE_START_MS + 5000, {"heart_rate": 80, "spo2": 97}]]),
        series(
            "", [[MINUTE_START_MS + 7000, {"heart_rate": 100}], [MINUTE_START_MS + MINUTE_MS, {"spo2": 90}]]
        ),
        series("oxi", [[MINUTE_START_MS + 1000, {"spo2": 95}]], session="pt-a-d9"),
    ]
    found = rollups_from_series(answer, {KEY, ("pt-a", "pt-a-d2", MINUTE_START_MS)})
    assert list(found) == [KEY]
    book = known_book(KEY)
    book.add([reading(5, device="oxi", heart_rate=80, spo2=97), reading(7, heart_rate=100)])
    memory = book.get(KEY)
    assert memory is not None and found[KEY].fields() == memory.fields()
    assert found[KEY].seen == memory.seen


values_of = st.fixed_dictionaries(
    {},
    optional={
        "heart_rate": st.integers(30, 200),
        "spo2": st.integers(70, 100),
        "temperature_c": st.integers(340, 420).map(lambda t: t / 10),
    },
)


@given(
    st.lists(st.tuples(st.integers(0, 59_999), st.sampled_from(["", "oxi", "cuff"]), values_of), max_size=60)
)
def test_a_minute_is_the_aggregate_of_its_distinct_points(
    points: list[tuple[int, str, dict[str, float]]],
) -> None:
    rollup = MinuteRollup()
    kept: dict[tuple[str, int], dict[str, float]] = {}
    for offset, device, values in points:
        assert rollup.add(device, offset, values) == ((device, offset) not in kept)
        kept.setdefault((device, offset), values)
    fields = rollup.fields()
    assert fields["readings"] == len(kept)
    for name in VITAL_NAMES:
        seen = [v[name] for v in kept.values() if name in v]
        if not seen:
            assert f"{name}_mean" not in fields
            continue
        assert (fields[f"{name}_min"], fields[f"{name}_max"]) == (min(seen), max(seen))
        assert fields[f"{name}_mean"] == pytest.approx(statistics.fmean(seen), rel=1e-12)
