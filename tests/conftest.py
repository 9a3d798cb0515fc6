"""Running the suite on several pytest-xdist workers (`make test` uses two).

Each test module stays on one worker, so a module's stack starts once; the fault tests, which kill
and restart servers, run one after another on the same worker. Each worker draws its servers' ports
from its own share of `deploy.processes.LISTEN_PORTS`, so two workers' stacks never draw the same
port between a pick and a bind.
"""

from __future__ import annotations

import os

import pytest

from deploy import processes

SERIAL_GROUPS = {"tests/integration/faults/": "faults"}
"""Folders whose tests run on one worker, one after another (the group's name)."""


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests for `--dist loadgroup`: a module's tests together, the serial folders as one."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = next((name for prefix, name in SERIAL_GROUPS.items() if path.startswith(prefix)), path)
        item.add_marker(pytest.mark.xdist_group(group))
