"""Histogram buckets shared by the instruments (seconds)."""

from __future__ import annotations

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""From a record's arrival to what it caused (an alert sent, a page delivered, a point stored)."""
WORK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""How long one piece of work took (a batch, a checkpoint, a write, an HTTP request)."""
