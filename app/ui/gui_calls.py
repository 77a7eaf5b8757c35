"""Deliver work done on other threads (a bus worker, a future's done callback) to the GUI thread.

A dialog that starts a test or a scan on a bus worker keeps one ``GuiCalls``; results come back
through a queued signal, and once the dialog closes nothing more is delivered to it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from PySide6.QtCore import QObject, Signal, Slot

T = TypeVar("T")


class GuiCalls(QObject):
    """Runs callbacks on the GUI thread. ``post`` may be called from any thread (a bus worker,
    a future's done callback); after ``close`` nothing more is delivered (the dialog is gone).
    It has no Qt parent, so a delivery still queued never meets a deleted object."""

    _deliver = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self._deliver.connect(self._run)

    def post(self, fn: Callable[[], None]) -> None:
        self._deliver.emit(fn)

    def when_done(
        self,
        future: Future[T],
        on_result: Callable[[T], None],
        on_error: Callable[[str], None],
    ) -> None:
        def done(finished: Future[T]) -> None:  # on the worker's thread
            try:
                result = finished.result()
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                self.post(lambda: on_error(message))
            else:
                self.post(lambda: on_result(result))

        future.add_done_callback(done)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        if not self.closed:
            fn()

    def close(self) -> None:
        self.closed = True
