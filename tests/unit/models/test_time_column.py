"""A sorted column of instants: compact, exact through JSON, merged in order, damaged data refused."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from models.time_column import TimeColumn, between, drop_after, drop_before, instant, merge, micros

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


class _Holder(BaseModel):
    times: TimeColumn = Field(default_factory=lambda: array("q"))


@given(st.lists(st.integers(-(10**15), 10**16)), st.lists(st.integers(-(10**15), 10**16)))
def test_merge_keeps_time_order_whether_the_block_fits_or_interleaves(
    held: list[int], added: list[int]
) -> None:
    column = array("q", sorted(held))
    merge(column, sorted(added))
    assert list(column) == sorted(held + added)


@given(st.lists(st.integers(-(10**15), 10**16)))
def test_json_gives_back_the_column(values: list[int]) -> None:
    holder = _Holder(times=array("q", sorted(values)))
    assert _Holder.model_validate_json(holder.model_dump_json()).times == holder.times


def test_between_and_the_drops_cut_at_the_instants() -> None:
    column = array("q", [micros(T0 + timedelta(seconds=s)) for s in (0, 1, 1, 2, 5)])
    assert between(column, T0, T0 + timedelta(seconds=2)) == [T0 + timedelta(seconds=s) for s in (1, 1, 2)]
    drop_before(column, T0 + timedelta(seconds=1))
    drop_after(column, T0 + timedelta(seconds=2))
    assert [instant(v) for v in column] == [T0 + timedelta(seconds=s) for s in (1, 1, 2)]


@pytest.mark.parametrize("damaged", [[5, -1], [2**63, 1], "times", [1.5], [True]])
def test_damaged_columns_are_refused_clearly(damaged: object) -> None:
    with pytest.raises(ValidationError, match="times"):
        _Holder.model_validate({"times": damaged})
