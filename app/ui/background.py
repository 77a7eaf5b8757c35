"""Run blocking work (database queries, imports, scans) off the GUI thread.

``run_in_background(fn, on_done, on_error)`` runs ``fn()`` on Qt's global thread pool and calls
``on_done(result)`` or ``on_error(message)`` on the GUI thread (queued signal). Tasks run one
at a time on a pool of a single thread: Python work in two workers at once starves the GUI thread
of the GIL, and database reads gain nothing from running side by side. Errors are logged
with their traceback and reported, never lost. ``wait_for_background()`` lets shutdown and tests
join every task so no thread outlives the window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:
            log.exception("background task failed")
            self._relay.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self._relay.done.emit(result)


_alive: set[_Relay] = set()
_pool: QThreadPool | None = None


def _background_pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(1)
        _pool.setExpiryTimeout(-1)
    return _pool


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[str], None] | None = None,
    *,
    owner: QObject | None = None,
) -> None:
    """Run ``fn`` in the pool; deliver its result or error on the GUI thread.

    ``owner`` (a widget) drops the delivery if it was destroyed meanwhile.
    """
    # The relay has no parent: a parent would delete it with the owner while a delivery may
    # still be queued for it. The owner's end is watched instead, and a late result dropped.
    relay = _Relay()
    _alive.add(relay)
    owner_gone = False

    def on_owner_gone() -> None:
        nonlocal owner_gone
        owner_gone = True

    watch = None if owner is None else owner.destroyed.connect(lambda *_: on_owner_gone())

    def finish() -> None:
        _alive.discard(relay)
        relay.deleteLater()
        if watch is not None and not owner_gone:
            QObject.disconnect(watch)

    def deliver(result: object) -> None:
        finish()
        if not owner_gone:
            on_done(result)

    def fail(message: str) -> None:
        finish()
        if on_error is not None and not owner_gone:
            on_error(message)

    relay.done.connect(deliver)
    relay.failed.connect(fail)
    _background_pool().start(_Task(fn, relay))


def wait_for_background(timeout_ms: int = 10_000) -> bool:
    """Block until every background task has finished (shutdown, tests)."""
    return bool(_background_pool().waitForDone(timeout_ms))
