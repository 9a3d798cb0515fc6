"""Running the suite on several pytest-xdist workers (`make test`: `-n 2 --dist loadfile`).

With `--dist loadfile` each test module runs on one worker (its stack starts once), and the fault
tests, which kill and restart servers, run one after another on one worker (`SERIAL_FOLDERS`). Each
worker draws its servers' ports from its own share of `deploy.processes.LISTEN_PORTS`, so two
workers' stacks never draw the same port between a pick and a bind.
"""

from __future__ import annotations

import os

import pytest
from xdist.scheduler import LoadScopeScheduling

from deploy import processes

SERIAL_FOLDERS = {"tests/integration/faults/": "faults"}
"""Folders whose modules run on one worker, one after another (the scope's name)."""


def worker_ports(ports: range, worker: str, count: int) -> range:
    """Worker `gwN`'s share of `ports`: one of `count` equal, disjoint slices."""
    index = int(worker.removeprefix("gw"))
    size = len(ports) // count
    start = ports.start + index * size
    return range(start, start + size)


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        processes.LISTEN_PORTS = worker_ports(processes.LISTEN_PORTS, worker, count)


def scope_of(nodeid: str) -> str:
    """A test's scheduling scope: its module, or the serial folder it is in."""
    path = nodeid.split("::", 1)[0]
    return next((name for prefix, name in SERIAL_FOLDERS.items() if path.startswith(prefix)), path)


class ModuleScheduling(LoadScopeScheduling):
    """xdist's loadfile, with each serial folder as one scope."""

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> LoadScopeScheduling | None:
    """`--dist loadfile` schedules by `scope_of` (xdist's own for the other modes)."""
    if config.getvalue("dist") != "loadfile":
        return None
    return ModuleScheduling(config, log)  # type: ignore[arg-type]
