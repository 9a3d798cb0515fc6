"""The 1 Hz step of `make bench` runs the real RulesRuntime over continuously monitored sessions."""

from __future__ import annotations

from streams.apps.bench import one_hertz
from streams.apps.bench.in_process import bench_runtime


def test_every_session_streams_once_a_second_and_its_history_is_thinned() -> None:
    runtime = bench_runtime()
    marks = one_hertz.run(sessions=4, minutes=14, every=7, say=lambda _: None, runtime=runtime)
    assert [m.minute for m in marks] == [7, 14]
    assert all(m.cpu_us_per_reading > 0 and m.rss_mb > 0 and m.stored_mb > 0 for m in marks)
    assert runtime.counts["deadletter"] == 0
    assert runtime.counts["events"] >= 4 * 14 * 60
    for state in runtime.live.values():
        (session,) = state.sessions.values()
        assert session.thinned
        # 14 minutes at 1 Hz: the 2-minute raw ring and the records of the minutes before it
        assert 120 < len(session.readings) < 14 * 60 * 0.7
        assert (
            len(session.readings) + len(session.thinned_out) == 14 * 60 + 4
        )  # + the setup sets; all times kept
