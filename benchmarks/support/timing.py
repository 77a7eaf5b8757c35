"""Timing one action in the benchmarks that print a ratio against a bound."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def timed(action: Callable[[], R]) -> tuple[float, R]:
    """Seconds ``action`` took, and what it returned."""
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result
