"""The in-process worker path of `make bench` runs the real RulesRuntime over the whole workload."""

from __future__ import annotations

from streams.apps.bench import worker_path


def test_every_record_is_processed_acked_and_every_state_stored() -> None:
    result = worker_path.run(sessions=30, rate=30.0, seconds=20.0, tune_gc=False)  # not in the test process
    setup = 30 * 6  # profile, three baseline readings, the current set and the start per session
    assert result["acked"] == setup + 600
    assert result["stored"] == 30
    assert result["checkpoints"] >= 2  # one per phase at least
    assert result["readings_us_per_record"] > 0
