"""CPU time and memory of a process from /proc (Linux), without extra dependencies."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_seconds: float
    rss_mb: float
    peak_rss_mb: float


def sample(pid: int) -> ProcSample | None:
    """User+system CPU seconds, current and peak resident memory; None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state is fields[0]
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    memory = {
        line.split(":")[0]: int(line.split()[1]) / 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS:", "VmHWM:"))
    }
    return ProcSample(cpu, round(memory.get("VmRSS", 0.0), 1), round(memory.get("VmHWM", 0.0), 1))


def cpu_percent(before: ProcSample | None, after: ProcSample | None, seconds: float) -> float:
    """Share of one core used between two samples (200 % = both cores of a 2-core machine)."""
    if before is None or after is None or seconds <= 0:
        return 0.0
    return round(100 * (after.cpu_seconds - before.cpu_seconds) / seconds, 1)
