"""The console's one bridge from the change feed to Qt: what any process committed to the site's
database, as signals on the GUI thread, so screens refresh what changed instead of asking the
database every few seconds.

``ChangeBridge`` owns a ``ChangeListener`` (``app.store.change_feed``). Batches arrive on the
listener's thread (PostgreSQL), on the thread that committed (this process on SQLite), or on the
file watch's thread (another process committed to the SQLite file: ``everything``); they are
folded together and emitted on the GUI thread at most once per ``COALESCE_MS``. Each per-kind
signal carries the ids that changed as a ``frozenset[int]``, or None when any of them may have
(a batch summarised by its writer, or ``everything``): use ``concerns(ids, shown_id)``.
``everything_changed`` is emitted for every ``everything`` batch (after the feed was
interrupted, or another process's commit on SQLite), for what no kind covers (lists that reload
as on F5).

``Refresher`` runs a screen's reload after the changes it follows, never more often than its
gap.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Signal

from app.store.change_feed import ChangeKind, ChangeListener, Changes
from app.store.database import Database

COALESCE_MS = 200  # batches within this window become one emission: at most five a second

ChangedIds = frozenset[int] | None


def concerns(ids: ChangedIds, shown: int | None) -> bool:
    """Whether a per-kind signal's ``ids`` concern the row ``shown`` (None: nothing shown)."""
    return shown is not None and (ids is None or shown in ids)


class ChangeBridge(QObject):
    """Signals (GUI thread) for the changes committed to ``db``'s database; ``start()`` begins
    listening, ``stop()`` ends it (call it before the bridge is deleted)."""

    balances_changed = Signal(object)  # account ids: a ledger entry was posted
    accounts_changed = Signal(object)  # account ids: status, supply state, balance, room...
    alarms_changed = Signal()  # an alarm was raised, acknowledged or cleared
    meters_changed = Signal(object)  # meter ids: online, relay or supply state, assignment
    commands_changed = Signal(object)  # relay command ids
    trips_changed = Signal(object)  # meter ids: a load-guard trip, lock-out or restore
    readings_changed = Signal(object)  # meter ids: interval readings stored
    everything_changed = Signal()  # the feed was interrupted: anything may have changed
    changed = Signal(object)  # every emission's Changes, whole

    _arrived = Signal(object)  # any thread -> the GUI thread

    def __init__(
        self, db: Database, parent: QObject | None = None, *, coalesce_ms: int = COALESCE_MS
    ) -> None:
        super().__init__(parent)
        self._pending: Changes | None = None
        self._arrived.connect(self._fold, Qt.ConnectionType.QueuedConnection)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(coalesce_ms)
        self._timer.timeout.connect(self._emit)
        self.listener = ChangeListener(db, self.feed)
        self._signals: dict[ChangeKind, Callable[[ChangedIds], None]] = {
            ChangeKind.BALANCE: self.balances_changed.emit,
            ChangeKind.ACCOUNT: self.accounts_changed.emit,
            ChangeKind.ALARM: lambda _ids: self.alarms_changed.emit(),
            ChangeKind.METER: self.meters_changed.emit,
            ChangeKind.COMMAND: self.commands_changed.emit,
            ChangeKind.TRIP: self.trips_changed.emit,
            ChangeKind.READING: self.readings_changed.emit,
        }

    def start(self, wait_s: float = 0.0) -> bool:
        """Begin listening; wait up to ``wait_s`` until changes are heard (PostgreSQL: the
        listener's connection is up). True when they are."""
        self.listener.start()
        return self.listener.wait_listening(wait_s)

    def stop(self) -> None:
        """Stop listening; nothing more is emitted."""
        self.listener.stop()
        self._timer.stop()
        self._pending = None

    def feed(self, changes: Changes) -> None:
        """Any thread: hand over a batch (the listener does; so may a test)."""
        if changes:
            self._arrived.emit(changes)

    def _fold(self, changes: Changes) -> None:
        self._pending = changes if self._pending is None else self._pending.merged(changes)
        if not self._timer.isActive():
            self._timer.start()

    def _emit(self) -> None:
        changes, self._pending = self._pending, None
        if not changes:
            return
        for kind in sorted(changes.kinds(), key=lambda k: k.value):
            self._signals[kind](changes.ids_of(kind))
        if changes.everything:
            self.everything_changed.emit()
        self.changed.emit(changes)


class Refresher(QObject):
    """Calls ``reload()`` after ``poke()``: at once when ``gap_ms`` has passed since its last
    call, else once when it has (pokes meanwhile fold into that one call). The screen's reload
    itself says what happens to a poke while a read is still running (it reads once more)."""

    def __init__(self, reload: Callable[[], None], gap_ms: int, parent: QObject) -> None:
        super().__init__(parent)
        self._reload = reload
        self._gap_ms = gap_ms
        self._since = QElapsedTimer()
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._run)

    def poke(self, *_ignored: object) -> None:
        """Ask for a reload (any arguments, e.g. a signal's ids, are ignored)."""
        if self._later.isActive():
            return
        if self._since.isValid() and self._since.elapsed() < self._gap_ms:
            self._later.start(max(1, self._gap_ms - int(self._since.elapsed())))
            return
        self._run()

    def _run(self) -> None:
        self._since.start()
        self._reload()
