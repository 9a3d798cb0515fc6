"""Retention durations as InfluxQL writes them, parsed and checked; shared by the settings and the
InfluxDB schema (so neither imports the other)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationInfo

_DURATION = re.compile(r"(\d+)([wdhms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_MAX_SECONDS = (2**63 - 1) // 10**9  # InfluxDB keeps durations as int64 nanoseconds


@dataclass(frozen=True, slots=True)
class Duration:
    """A retention duration: InfluxQL literal text and its length in seconds (None = INF, forever)."""

    text: str
    seconds: int | None

    @property
    def shard_duration(self) -> str:
        """InfluxDB's own default shard-group duration for a policy this long (given explicitly, so a
        policy shortened below 7 days can still be altered)."""
        if self.seconds is None or self.seconds >= 180 * 86400:
            return "7d"
        return "1d" if self.seconds >= 2 * 86400 else "1h"


def parse_duration(value: str) -> Duration:
    """`INF` or an InfluxQL duration of whole units (`520w`, `90d`, `1d12h`) of at least 1h."""
    text = value.strip()
    if text.upper() == "INF":
        return Duration("INF", None)
    if not text or _DURATION.sub("", text):
        raise ValueError(
            f"{value!r} is not a retention duration: use INF or a number with a unit "
            "w, d, h, m or s, such as 520w, 90d or 1d12h"
        )
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION.findall(text))
    if seconds < 3600:
        raise ValueError(
            f"{value!r} is shorter than InfluxDB's minimum retention of 1h (use INF for forever)"
        )
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{value!r} is longer than InfluxDB can hold (about 290 years): use INF")
    return Duration(text, seconds)


def influx_duration(value: str, info: ValidationInfo) -> str:
    """Settings validator: the duration normalised (`inf` -> `INF`), or a ValueError naming the
    variable and the rule."""
    try:
        return parse_duration(value).text
    except ValueError as exc:
        raise ValueError(f"IVIGWATCH_{(info.field_name or '').upper()}: {exc}") from None
