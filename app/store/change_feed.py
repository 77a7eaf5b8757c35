"""The change feed: what every process commits to a site's database, told to whoever listens.

Writers publish without doing anything (``app.store.change_capture`` takes the changes from the
ORM of each ``Database``); a reader makes a ``ChangeListener(db, callback)`` and ``start()``\\ s
it. ``callback(changes)`` gets a ``Changes`` value (kind -> ids, kinds changed as a whole, and
``everything`` after a gap).

- PostgreSQL: a dedicated psycopg connection (not one of the pool's) runs ``LISTEN
  meterdesk_changes`` in a daemon thread named "change listener"; the callback runs on that
  thread, once per notification. When the server goes away it connects again after a bounded
  back-off (``RETRY_DELAYS_S``) and then delivers one ``EVERYTHING`` batch, since what was
  committed in the gap was not heard. Every process's commits arrive, this one's too.
- SQLite: it subscribes to the Database's in-process feed; the callback runs on the thread that
  committed, right after the commit. The commits of other processes on the same file (and of
  other Database handles of this process) are heard too, by ``app.store.sqlite_watch``: its
  thread, also named "change listener", asks the file's ``PRAGMA data_version`` every
  ``file_check_s`` and delivers one ``EVERYTHING`` batch, on that thread, when others
  committed (SQLite cannot say what they changed). This process's own commits never cause one.

A callback that raises is logged; the feed goes on.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence

import psycopg
from psycopg import sql

from app.store.changes import CHANNEL, EVERYTHING, ChangeKind, Changes, decode
from app.store.database import Database
from app.store.sqlite_watch import FILE_CHECK_S, SqliteWatch

__all__ = ["EVERYTHING", "ChangeKind", "ChangeListener", "Changes"]

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0)  # after each failed connection; the last repeats
WAIT_S = 0.25  # how long one wait for notifications lasts: the longest stop() waits for it
CONNECT_TIMEOUT_S = 10


class ChangeListener:
    """Calls ``callback(changes)`` for what is committed to ``db``'s database (see the module
    docstring for which thread). ``start()`` returns at once; ``stop()`` ends the thread."""

    def __init__(
        self,
        db: Database,
        callback: Callable[[Changes], None],
        *,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
        file_check_s: float = FILE_CHECK_S,
    ) -> None:
        if not retry_delays_s:
            raise ValueError("retry_delays_s needs at least one delay")
        self._db = db
        self._callback = callback
        self._delays = tuple(retry_delays_s)
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._backend_pid: int | None = None
        self._file_check_s = file_check_s
        self._watch: SqliteWatch | None = None

    @property
    def backend_pid(self) -> int | None:
        """PostgreSQL: the server process of the listening connection (None while there is
        none). For diagnostics and tests."""
        return self._backend_pid

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def wait_listening(self, timeout_s: float) -> bool:
        """Wait until changes are heard (PostgreSQL: LISTEN is in place); True if they are."""
        return self._listening.wait(timeout_s)

    def start(self) -> None:
        if self._thread is not None or self._unsubscribe is not None:
            return
        self._stop.clear()
        if self._db.is_sqlite:
            self._unsubscribe = self._db.changes.subscribe(self._deliver)
            if self._db.file_path is not None:  # in memory: no other process can write
                self._watch = SqliteWatch(
                    self._db.file_path,
                    self._db.engine,
                    lambda: self._deliver(EVERYTHING),
                    interval_s=self._file_check_s,
                )
                self._watch.start()
            self._listening.set()
            return
        self._thread = threading.Thread(target=self._run, name="change listener", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop listening; no callback runs after this returns (within ``timeout_s``)."""
        self._stop.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._watch is not None:
            self._watch.stop(timeout_s)
            self._watch = None
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._listening.clear()

    def check_other_processes(self) -> bool:
        """SQLite: ask the file now whether others committed (the listener's thread does every
        ``file_check_s``); True when they did and ``EVERYTHING`` was delivered. PostgreSQL, or
        a listener not started: False (the server tells; there is nothing to ask)."""
        watch = self._watch
        return watch.check() if watch is not None else False

    def _deliver(self, changes: Changes) -> None:
        if self._stop.is_set():
            return
        try:
            self._callback(changes)
        except Exception:
            log.exception("a change listener's callback failed; listening goes on")

    # -- PostgreSQL ------------------------------------------------------------------------------

    def _conninfo(self) -> str:
        url = self._db.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _run(self) -> None:
        failures = 0
        gap = False  # a connection was lost or never made: what happened meanwhile is unknown
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo(),
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    application_name=f"MeterDesk changes on {socket.gethostname()}"[:63],
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self._backend_pid = conn.info.backend_pid
                    self._listening.set()
                    if failures:
                        log.info("change listener: listening again after %d failure(s)", failures)
                    failures = 0
                    if gap:
                        gap = False
                        self._deliver(EVERYTHING)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=WAIT_S):
                            self._deliver(_changes_of(note.payload))
            except Exception as exc:
                if self._stop.is_set():
                    break
                delay = self._delays[min(failures, len(self._delays) - 1)]
                failures += 1
                log.log(
                    logging.WARNING if isinstance(exc, psycopg.Error) else logging.ERROR,
                    "change listener: the connection to %s failed (%s); trying again in %.1f s",
                    self._db.display_name,
                    str(exc).strip() or type(exc).__name__,
                    delay,
                    exc_info=not isinstance(exc, psycopg.Error),
                )
                gap = True
                self._listening.clear()
                self._backend_pid = None
                self._stop.wait(delay)
        self._listening.clear()
        self._backend_pid = None


def _changes_of(payload: str) -> Changes:
    """A notification's changes; one that is not ours to read means "everything"."""
    try:
        return decode(payload)
    except ValueError as exc:
        log.warning("change listener: %s; treating it as a change of everything", exc)
        return EVERYTHING
