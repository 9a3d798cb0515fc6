"""A model parameter as the cohort measure prints it: name, value and where the number comes from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Parameter:
    """One number (or rule) of the cohort model, with its source; `[assumption]` marks a choice."""

    name: str
    value: str
    source: str
