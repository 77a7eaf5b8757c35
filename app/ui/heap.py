"""Keep the Python runtime from stalling the GUI: the cycle collector and the GIL.

A full collection walks every tracked object while holding the GIL: with PySide6, SQLAlchemy
and 20,000 loaded rows that walk takes over 100 ms, a visible freeze. Objects that live as long
as the program (modules, classes, the loaded rows) are moved out of the collector's reach with
``gc.freeze()``; they are still freed by reference counting when dropped. Young collections stay
frequent and cheap.

While a worker thread runs Python, the GUI thread must win the GIL back every time Qt calls into
Python (each ``data()`` of a painted cell). With the default 5 ms switch interval one repaint
can wait 100 ms and more; 0.5 ms keeps it to a few milliseconds at a small cost in throughput.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

YOUNG_THRESHOLD = 10_000
SWITCH_INTERVAL_S = 0.0005


def tune_collector() -> None:
    """At start-up: collect once, freeze what survived, collect young objects less often, and
    hand the GIL between threads more often."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def settle_loaded_data() -> None:
    """After a large data set was installed: keep the collector from walking it again."""
    gc.freeze()


def start_quietly(start: Callable[[], None]) -> Callable[[], None]:
    """``start`` (run on a starter thread) builds many objects that live as long as the program
    (a runtime's meters, threads, simulated lines). Full collections triggered meanwhile would
    walk them all with the GIL held, freezing the GUI for 100 ms at a time: collect nothing
    until it is done, then freeze what it built."""

    def run() -> None:
        gc.disable()
        try:
            start()
        finally:
            gc.freeze()
            gc.enable()

    return run
