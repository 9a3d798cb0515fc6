"""The patient's repeat readings and the nurse's acknowledgements, as the model states them."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from streams.apps.cohort import responses
from streams.apps.cohort.responses import RepeatRequest, ack_delay, devices_for, repeat_delay, repeat_requests
from tests.unit.streams.apps.cohort.hand_built import START, message


def test_todays_rules_ask_for_no_repeat() -> None:
    assert repeat_requests([message("hypotension", "critical").alert]) == []


def test_a_request_names_the_devices_to_pick_up_and_a_worn_oximeter_repeats_by_itself() -> None:
    request = RepeatRequest(frozenset({"systolic_bp", "spo2", "temperature_c"}), START)
    assert devices_for(request, worn_oximeter=False) == ["cuff", "oximeter", "thermometer"]
    assert devices_for(request, worn_oximeter=True) == ["cuff", "thermometer"]


@pytest.mark.parametrize("device", ["cuff", "oximeter", "thermometer"])
def test_repeat_delays_have_the_stated_median_and_never_share(device: responses.Device) -> None:
    rng = random.Random(8)
    delays = [repeat_delay(device, rng) for _ in range(6000)]
    never = sum(d is None for d in delays) / len(delays)
    assert never == pytest.approx(responses.NEVER_REPEAT_SHARE, abs=0.015)
    minutes = [d.total_seconds() / 60 for d in delays if d is not None]
    assert statistics.median(minutes) == pytest.approx(responses.REPEAT_MEDIAN_MINUTES[device], rel=0.05)
    assert min(minutes) >= responses.REPEAT_AT_LEAST_MINUTES


def test_the_nurse_acknowledges_the_stated_share_after_the_stated_median() -> None:
    rng = random.Random(9)
    delays = [ack_delay(rng) for _ in range(6000)]
    acked = [d.total_seconds() / 60 for d in delays if d is not None]
    assert len(acked) / len(delays) == pytest.approx(responses.NURSE_ACK_SHARE, abs=0.01)
    assert statistics.median(acked) == pytest.approx(responses.NURSE_ACK_MEDIAN_MINUTES, rel=0.05)
    p90 = statistics.quantiles(acked, n=10)[-1]
    assert p90 == pytest.approx(
        responses.NURSE_ACK_MEDIAN_MINUTES * math.exp(1.2816 * responses.NURSE_ACK_SIGMA), rel=0.08
    )
