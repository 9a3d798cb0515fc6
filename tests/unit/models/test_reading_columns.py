"""A session's readings are stored as columns and come back exactly, from old states too."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from models import reading_columns
from models.reading_columns import COLUMNS_FROM, ColumnsCache, ColumnsError, Reading, from_stored, to_columns
from models.state import SessionState

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)

values = st.one_of(
    st.integers(0, 300).map(float),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.just(2.0**60),
)
readings = st.lists(
    st.builds(
        Reading,
        ts=st.integers(-(10**12), 10**14).map(lambda us: T0 + timedelta(microseconds=us)),
        values=st.dictionaries(
            st.sampled_from(["spo2", "heart_rate", "systolic_bp", "temperature_c"]), values, min_size=1
        ),
        on_oxygen=st.booleans(),
    ),
    max_size=40,
).map(lambda rs: sorted(rs, key=lambda r: r.ts))


@settings(max_examples=300, deadline=None)
@given(readings)
def test_columns_give_back_every_reading_exactly(items: list[Reading]) -> None:
    back = from_stored(json.loads(json.dumps(to_columns(items))))
    assert back == items
    for a, b in zip(back, items, strict=True):
        assert list(a.values) == list(b.values)  # the vitals' order too
        assert all(type(v) is float for v in a.values.values())
        assert a.ts.utcoffset() == timedelta(0)


def test_a_session_stores_columns_once_it_has_many_readings_and_reads_its_old_list_form() -> None:
    few = [
        Reading(ts=T0, values={"spo2": 97.0, "heart_rate": 71.0}),
        Reading(ts=T0 + timedelta(seconds=1), values={"spo2": 96.5, "heart_rate": 70.0}, on_oxygen=True),
    ]
    many = [Reading(ts=T0 + timedelta(seconds=2 + n), values={"spo2": 97.0}) for n in range(COLUMNS_FROM)]
    session = SessionState(session_id="s-1", first_ts=T0, readings=few)
    stored = json.loads(session.model_dump_json())
    assert isinstance(stored["readings"], list)  # few: Pydantic's own list, read natively
    assert SessionState.model_validate_json(session.model_dump_json()) == session
    session = SessionState(session_id="s-1", first_ts=T0, readings=few + many)
    stored = json.loads(session.model_dump_json())
    columns = stored["readings"]
    assert columns["shapes"] == [["spo2", "heart_rate"], ["spo2"]]
    assert columns["t"][:3] == [
        int((T0 - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000,
        1_000_000,
        1_000_000,
    ]
    assert columns["x"][:5] == [97, 71, 96.5, 70, 97] and columns["o"] == [1]
    assert columns["s"][:3] == [0, 0, 1]
    assert SessionState.model_validate_json(session.model_dump_json()) == session
    old = dict(stored)  # as stored before the columns: one object per reading
    old["readings"] = [
        {"ts": r.ts.isoformat(), "values": r.values, "on_oxygen": r.on_oxygen} for r in session.readings
    ]
    assert SessionState.model_validate(old).readings == session.readings


@pytest.mark.parametrize(
    "damaged",
    [
        {"shapes": [["spo2"]], "t": [1, 2], "x": [97]},  # a value short
        {"shapes": [["spo2"]], "t": [1], "x": [97, 98]},  # a value too many
        {"shapes": [["spo2"]], "t": [1, 2], "s": [0, 1], "x": [97, 98]},  # no such shape
        {"shapes": [["spo2"]], "t": ["1"], "x": [97]},
        {"t": [1], "x": [97]},
        {"shapes": [["spo2"]], "t": [1], "x": ["high"]},
        {"shapes": [["spo2"]], "t": [5, -1], "x": [97, 98]},  # out of time order
        {"shapes": [["spo2"], ["heart_rate"]], "t": [1, 2], "s": [1, -2], "x": [97, 98]},
        {"shapes": [["spo2"]], "t": [1], "x": [97], "o": [3]},
        {"shapes": [["spo2"]], "t": [2**70], "x": [97]},
        "columns",
    ],
)
def test_damaged_columns_are_a_clear_error(damaged: object) -> None:
    with pytest.raises(ColumnsError):
        from_stored(damaged)
    with pytest.raises(ValidationError, match="readings"):
        SessionState.model_validate({"session_id": "s-1", "first_ts": T0, "readings": damaged})


operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 5_000_000), values, st.booleans()),
        st.tuples(st.just("insert"), st.integers(0, 10**6), values, st.booleans()),
        st.tuples(st.just("drop_front"), st.integers(1, 5)),
        st.tuples(st.just("thin"), st.integers(0, 10**6), st.integers(1, 6)),
        st.tuples(
            st.just("store"),
        ),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_the_cache_gives_what_a_fresh_encoding_gives_through_any_told_changes(
    ops: list[tuple[Any, ...]],
) -> None:
    readings: list[Reading] = []
    cache = ColumnsCache()
    micros = 0
    for op in ops:
        if op[0] == "append":
            micros += op[1]
            readings.append(
                Reading(ts=T0 + timedelta(microseconds=micros), values={"spo2": op[2]}, on_oxygen=op[3])
            )
        elif op[0] == "insert" and readings:
            at = op[1] % len(readings)
            ts = readings[at].ts
            readings.insert(at, Reading(ts=ts, values={"spo2": op[2], "heart_rate": 1.0}, on_oxygen=op[3]))
            cache.cut(at)
        elif op[0] == "drop_front":
            count = min(op[1], len(readings))
            del readings[:count]
            cache.drop_front(count)
        elif op[0] == "thin" and readings:
            lo = op[1] % len(readings)
            del readings[lo : lo + op[2]]  # as a thinned minute leaves fewer readings
            cache.cut(lo)
        else:
            assert from_stored(json.loads(json.dumps(cache.columns(readings)))) == readings
    assert from_stored(json.loads(json.dumps(cache.columns(readings)))) == readings


def test_a_change_nobody_told_the_cache_of_is_caught_at_its_ends() -> None:
    readings = [Reading(ts=T0 + timedelta(seconds=s), values={"spo2": 90.0 + s}) for s in range(10)]
    cache = ColumnsCache()
    cache.columns(readings)
    readings = [Reading(ts=r.ts, values={"spo2": 1.0}) for r in readings]  # a new list, as repair makes
    assert from_stored(cache.columns(readings)) == readings
    del readings[0]  # untold
    assert from_stored(cache.columns(readings)) == readings


def test_readings_of_equal_values_share_one_dict_kept_exact() -> None:
    a = Reading(ts=T0, values={"spo2": 97.0, "heart_rate": 75.0})
    b = Reading(ts=T0 + timedelta(seconds=1), values={"spo2": 97, "heart_rate": 75})
    assert a.values is b.values
    other_order = Reading(ts=T0, values={"heart_rate": 75.0, "spo2": 97.0})
    assert other_order.values is not a.values and list(other_order.values) == ["heart_rate", "spo2"]
    zero, negative_zero = (Reading(ts=T0, values={"temperature_c": v}) for v in (0.0, -0.0))
    assert str(negative_zero.values["temperature_c"]) == "-0.0" and zero.values is not negative_zero.values
    many = [
        Reading(ts=T0 + timedelta(seconds=n), values={"spo2": 97.0, "heart_rate": 75.0}) for n in range(80)
    ]
    decoded = from_stored(to_columns(many))
    assert len(decoded) == 80 and all(r.values is a.values for r in decoded)


def test_the_shared_values_start_again_past_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading_columns, "SHARED_VALUES", 3)
    monkeypatch.setattr(reading_columns, "_shared", {})
    kept = [Reading(ts=T0, values={"spo2": float(90 + n)}) for n in range(4)]
    assert len(reading_columns._shared) == 1  # the fourth found the table full: it started again
    assert [r.values for r in kept] == [{"spo2": float(90 + n)} for n in range(4)]
    assert Reading(ts=T0, values={"spo2": 93.0}).values is kept[3].values
