"""The bench's pure figures: percentiles, the flat-lag verdict, step summaries and target verdicts."""

import pytest

from streams.apps.bench.stats import (
    LagSample,
    StepSummary,
    lag_is_flat,
    percentile,
    summarise_step,
    sustained,
    verdicts,
)


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentile_does_not_depend_on_order() -> None:
    assert percentile([300.0, 10.0, 20.0], 50) == 20.0


def _samples(*lags: int) -> list[LagSample]:
    return [LagSample(at=2.0 * (i + 1), lag=lag) for i, lag in enumerate(lags)]


def test_small_steady_lag_is_flat() -> None:
    assert lag_is_flat(_samples(300, 900, 200, 500, 400, 600), rate=1000)


def test_lag_over_one_second_of_data_at_the_end_is_not_flat() -> None:
    assert not lag_is_flat(_samples(100, 200, 300, 1500, 1600, 1700), rate=1000)


def test_lag_growing_through_the_second_half_is_not_flat() -> None:
    # under 1 s of data at the end, but it climbed by 0.8 s of data over the second half
    assert not lag_is_flat(_samples(10, 10, 10, 100, 500, 900, 900, 900), rate=1000)


def test_one_commit_landing_late_does_not_decide_the_end() -> None:
    # the last sample caught the group just before its commit: the median of the last three rules
    assert lag_is_flat(_samples(200, 300, 250, 200, 1200), rate=1000)


def test_no_samples_or_no_rate_is_never_flat() -> None:
    assert not lag_is_flat([], rate=1000)
    assert not lag_is_flat(_samples(0, 0), rate=0)


def _step(rate: int, flat: bool, p99: float | None = None, processed: int = 0) -> StepSummary:
    return StepSummary(
        target_rate=rate,
        seconds=10,
        sent=rate * 10,
        processed=processed or rate * 10,
        written_points=0,
        lag_end=0,
        writer_lag_end=0,
        flat=flat,
        alerts=0,
        latency_ms={"p50": None, "p95": None, "p99": p99},
    )


def test_sustained_is_the_highest_step_of_the_unbroken_flat_run() -> None:
    steps = [_step(1000, True), _step(2500, True), _step(5000, False), _step(10000, True)]
    assert sustained(steps) == 2500
    assert sustained([_step(1000, False)]) == 0


def test_summary_rates_and_latency_percentiles() -> None:
    summary = summarise_step(
        2000,
        10.0,
        sent=20_000,
        processed=19_000,
        written_points=40_000,
        lag=_samples(100, 150, 120),
        writer_lag=_samples(4000, 5000, 4500),
        latencies_ms=[float(v) for v in range(1, 101)],
    )
    assert summary.offered_rate == 2000
    assert summary.processed_rate == 1900
    assert summary.points_rate == 4000
    assert summary.flat
    assert summary.alerts == 100
    assert summary.latency_ms["p99"] == pytest.approx(99.0, abs=0.1)
    assert summary.as_json()["points_per_s"] == 4000


def test_verdicts_mark_each_target_pass_miss_or_not_measured() -> None:
    steps = [_step(2000, True, p99=180.0, processed=60_000), _step(10_000, True), _step(20_000, False)]
    table = verdicts(steps, latency_rate=2000, raw_rate=50_000.0, sessions=10_000, sessions_rss_mb=320.0)
    # 10,000/s flat; p99 180 ms at 2,000/s; 20,000 processed/s at best vs 50,000 raw = 40 %; 320 MB
    assert [v.passed for v in table] == [True, True, True, False]
    assert table[2].measured.startswith("40%")
    unmeasured = verdicts(
        [_step(1000, False)], latency_rate=2000, raw_rate=None, sessions=2000, sessions_rss_mb=90
    )
    assert [v.passed for v in unmeasured] == [False, None, None, None]
    drained = verdicts(
        steps,
        latency_rate=2000,
        raw_rate=50_000.0,
        sessions=10_000,
        sessions_rss_mb=320.0,
        drain_rate=5_000.0,
    )
    assert (
        drained[2].measured.startswith("10%") and drained[2].passed is False
    )  # the drain, not the best step
