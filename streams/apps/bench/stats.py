"""Pure figures of the bench: percentiles, the flat-lag verdict, step summaries, target verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

FLAT_LAG_SECONDS = 1.0
"""A step is sustained when the consumer lag at its end is under this many seconds of data ..."""
GROWTH_SECONDS = 0.5
"""... and the lag did not grow by more than this many seconds of data over the step's second half."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LagSample:
    at: float
    """Seconds since the step began."""
    lag: int
    """Messages not yet committed by the consumer group."""


def lag_is_flat(samples: Sequence[LagSample], rate: float) -> bool:
    """Sustained: lag at the end is under 1 s of data at `rate`, and not growing over the second half."""
    if not samples or rate <= 0:
        return False
    end = _end_lag(samples)
    if end >= FLAT_LAG_SECONDS * rate:
        return False
    half = samples[-1].at / 2
    second = [s for s in samples if s.at >= half] or list(samples)
    growth = end - min(s.lag for s in second)
    return growth <= GROWTH_SECONDS * rate


def _end_lag(samples: Sequence[LagSample]) -> float:
    """The median of the last three samples: a commit landing just before or after a sample is noise."""
    tail = sorted(s.lag for s in samples[-3:])
    return float(tail[len(tail) // 2])


@dataclass
class StepSummary:
    """What one load step measured."""

    target_rate: int
    seconds: float
    sent: int
    processed: int
    written_points: int
    lag_end: float
    writer_lag_end: float
    flat: bool
    alerts: int
    latency_ms: dict[str, float | None]
    cpu_percent: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def offered_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def processed_rate(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0

    @property
    def points_rate(self) -> float:
        return self.written_points / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            offered_rate=round(self.offered_rate, 1),
            processed_rate=round(self.processed_rate, 1),
            points_per_s=round(self.points_rate, 1),
        )
        return data


def summarise_step(
    target_rate: int,
    seconds: float,
    *,
    sent: int,
    processed: int,
    written_points: int,
    lag: Sequence[LagSample],
    writer_lag: Sequence[LagSample],
    latencies_ms: Sequence[float],
) -> StepSummary:
    """One step's figures; `flat` judges the rules worker's lag against the offered rate."""
    offered = sent / seconds if seconds else 0.0
    return StepSummary(
        target_rate=target_rate,
        seconds=round(seconds, 2),
        sent=sent,
        processed=processed,
        written_points=written_points,
        lag_end=_end_lag(lag) if lag else 0.0,
        writer_lag_end=_end_lag(writer_lag) if writer_lag else 0.0,
        flat=lag_is_flat(lag, offered),
        alerts=len(latencies_ms),
        latency_ms=latency_figures(latencies_ms),
    )


def latency_figures(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and p99 in ms, rounded to 0.1 ms (None when no alert was seen)."""
    return {
        f"p{q}": None if (v := percentile(latencies_ms, q)) is None else round(v, 1) for q in (50, 95, 99)
    }


def sustained(steps: Sequence[StepSummary]) -> int:
    """The highest step whose lag stayed flat, counting only the unbroken run from the lowest step."""
    best = 0
    for step in sorted(steps, key=lambda s: s.target_rate):
        if not step.flat:
            break
        best = step.target_rate
    return best


@dataclass(frozen=True)
class Verdict:
    name: str
    target: str
    measured: str
    passed: bool | None
    """None: not measured in this run."""


def verdicts(
    steps: Sequence[StepSummary],
    *,
    latency_rate: int,
    raw_rate: float | None,
    sessions: int,
    sessions_rss_mb: float | None,
    drain_rate: float | None = None,
) -> list[Verdict]:
    """The issue's four targets, each with what this run measured. The pipeline's rate against the
    raw consumer's is its rate draining the backlog the steps left, when it was measured, else its
    best step."""
    best = sustained(steps)
    at_rate = next((s for s in steps if s.target_rate == latency_rate), None)
    p99 = None if at_rate is None else at_rate.latency_ms.get("p99")
    capacity = drain_rate if drain_rate else max((s.processed_rate for s in steps), default=0.0)
    ratio = capacity / raw_rate if raw_rate else None
    return [
        Verdict(
            "sustained throughput per worker", ">= 10,000 readings/s", f"{best:,} readings/s", best >= 10_000
        ),
        Verdict(
            f"p99 reading-to-alert at {latency_rate:,}/s",
            "<= 250 ms",
            "not measured" if p99 is None else f"{p99:,.0f} ms",
            None if p99 is None else p99 <= 250,
        ),
        Verdict(
            "pipeline / raw consume",
            ">= 30 %",
            "not measured" if ratio is None else f"{ratio:.0%} ({capacity:,.0f} / {raw_rate:,.0f} msg/s)",
            None if ratio is None else ratio >= 0.30,
        ),
        Verdict(
            f"rules worker RSS, {sessions:,} active sessions",
            "<= 300 MB (10,000 sessions)",
            "not measured" if sessions_rss_mb is None else f"{sessions_rss_mb:,.0f} MB",
            None if sessions_rss_mb is None or sessions < 10_000 else sessions_rss_mb <= 300,
        ),
    ]
