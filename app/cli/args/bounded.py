"""Argument types for numbers with bounds: a value outside them is an argparse usage error
(exit 2, ``argument --baud: ...``) before anything is opened, never a hang or a traceback later.

The wire's bounds are the ones the services check too (``app.hardware.ports``); the others are
what the runtime can honour. ``nan`` and ``inf`` are refused wherever a float is taken.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

# Simulated seconds per real second: a million runs a simulated year in about half a minute.
# Beyond it a simulated meter's clock overflows the calendar within a run.
MAX_TIME_SCALE = 1_000_000.0
DAY_S = 86_400


def _whole(text: str, what: str) -> int:
    raw = text.strip()
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {what}")
    return int(raw)


def _number(text: str, what: str) -> float:
    try:
        value = float(text) if len(text) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number {what}")
    return value


def baud_rate(text: str) -> int:
    """``--baud``: one of the RS485 meter speeds."""
    baud = _whole(text, "of baud")
    from app.hardware.ports import baud_problem  # when a value is given: --help loads no wire code

    if (problem := baud_problem(baud)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return baud


def reply_timeout_ms(text: str) -> int:
    """``--timeout-ms``: a reply timeout the bus worker waits (50 to 10,000 ms)."""
    timeout = _whole(text, "of milliseconds")
    from app.hardware.ports import timeout_problem  # as above

    if (problem := timeout_problem(timeout)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return timeout


def milliseconds(low: int, high: int) -> Callable[[str], int]:
    """A whole number of milliseconds from ``low`` to ``high``."""

    def parse(text: str) -> int:
        value = _whole(text, "of milliseconds")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} ms is out of range; give {low} to {high}")
        return value

    return parse


def time_scale(text: str) -> float:
    """``--time-scale``: simulated seconds per real second, above 0 and at most a million."""
    scale = _number(text, "(simulated seconds per real second)")
    if not 0 < scale <= MAX_TIME_SCALE:
        raise argparse.ArgumentTypeError(
            f"a time scale of {text} is out of range; give a number above 0 and at most "
            f"{MAX_TIME_SCALE:,.0f} (1 is real time)"
        )
    return scale


def seconds(low: float, high: float, *, whole: bool = False) -> Callable[[str], float]:
    """A number of seconds from ``low`` to ``high`` (a whole number if ``whole``)."""

    def parse(text: str) -> float:
        value: float = _whole(text, "of seconds") if whole else _number(text, "of seconds")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text} seconds is out of range; give {low:g} to {high:g}"
            )
        return value

    return parse


def whole_seconds(low: int, high: int) -> Callable[[str], int]:
    """A whole number of seconds from ``low`` to ``high``."""
    check = seconds(low, high, whole=True)

    def parse(text: str) -> int:
        return int(check(text))

    return parse
