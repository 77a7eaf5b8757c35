"""Commits of other processes to a SQLite file, seen with ``PRAGMA data_version``.

SQLite has no NOTIFY: a process hears its own commits through the Database's in-process feed
only. ``SqliteWatch`` keeps one read-only connection of its own (``mode=ro``, outside the pool)
and asks it ``PRAGMA data_version`` every ``FILE_CHECK_S`` on a thread of its own. The value
moves when any other connection committed a change; it costs no read of the file when nothing
did, and no transaction stays open between two checks (no lock is held).

Any other connection includes this process's own pool connections, so their commits are
accounted as they happen, on the committing thread (engine events of the watched ``Engine``):

- just before a COMMIT of a transaction that wrote rows (``sqlite3.Connection.total_changes``
  moved since BEGIN), the watch reads the version. The writer holds the file's write lock
  then, so nobody else can commit in between: a version that moved since the last read means
  another process committed, and is reported even though a commit of ours follows at once;
- right after that commit (the connection's next BEGIN, ROLLBACK or return to the pool, on
  the same thread) it reads the version again and takes the move as ours.

A check that finds a move no commit of ours explains calls ``on_foreign()`` once, whatever the
number of commits behind it (the caller reads everything again). Limits: a commit of another
process that lands in the instant between one of ours and the read after it is taken as ours
(it shows with the next change, or F5); writes that change no row (DDL only) and commits of
connections that stay open long after they commit are reported as another process's
(a needless reload, never a missed change).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event

log = logging.getLogger(__name__)

FILE_CHECK_S = 0.5  # how often the thread asks the file whether others committed
STALE_CHECKS = 4  # checks skipped for a commit of ours not yet read back, before giving up on it
READ_TIMEOUT_S = 0.2  # a read that finds the file busy waits this long, then counts as unknown


class SqliteWatch:
    """Calls ``on_foreign()`` (on the watch's thread, or the one calling ``check``) when other
    processes, or other Database handles of this one, committed to the SQLite file ``path``
    that ``engine``'s connections write. ``start()`` returns at once; ``stop()`` ends the
    thread, removes the engine events and closes the connection."""

    def __init__(
        self,
        path: Path,
        engine: Engine,
        on_foreign: Callable[[], None],
        *,
        interval_s: float = FILE_CHECK_S,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"the file check interval must be above 0 s, not {interval_s}")
        self._path = path
        self._engine = engine
        self._on_foreign = on_foreign
        self._interval_s = interval_s
        self._lock = threading.Lock()  # guards the connection and the fields below it
        self._conn: sqlite3.Connection | None = None
        self._known: int | None = None  # the version accounted for (None: unknown)
        self._in_flight: set[int] = set()  # threads whose commit is not read back yet
        self._foreign = False  # another process committed; not reported yet
        self._skipped = 0
        self._failing = False  # the last open or read failed (logged once per streak)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._begin_key = f"meterdesk_sqlite_watch_{id(self)}"  # connection.info: rows at BEGIN
        self._hooks: list[tuple[str, Callable[..., None]]] = [
            ("begin", self._on_begin),
            ("commit", self._on_commit),
            ("rollback", self._on_rollback),
            ("checkin", self._on_checkin),
        ]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        with self._lock:
            self._open()
        for name, hook in self._hooks:
            event.listen(self._engine, name, hook)
        self._thread = threading.Thread(target=self._run, name="change listener", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is None:
            return
        for name, hook in self._hooks:
            if event.contains(self._engine, name, hook):
                event.remove(self._engine, name, hook)
        self._thread.join(timeout_s)
        self._thread = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._in_flight.clear()

    def check(self) -> bool:
        """Ask the file now (the thread does it every ``interval_s``); True when another
        process committed since the last check, in which case ``on_foreign()`` was called."""
        with self._lock:
            if self._conn is None and not self._stop.is_set() and self._open():
                self._foreign = True  # not watched until now: anything may have been missed
            if self._in_flight and self._skipped < STALE_CHECKS:
                self._skipped += 1  # a commit of ours is between its COMMIT and its read-back
            else:
                self._skipped = 0
                self._in_flight.clear()  # one that never read back: a move now is reported
                version = self._read()
                if version is not None and version != self._known:
                    self._foreign = True
                    self._known = version
            found, self._foreign = self._foreign, False
        if found:
            self._on_foreign()
        return found

    # -- the watch's connection (called with the lock held) ---------------------------------------

    def _open(self) -> bool:
        try:
            conn = sqlite3.connect(
                f"{self._path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=READ_TIMEOUT_S,
                check_same_thread=False,  # the watch's thread and committing threads, by the lock
                isolation_level=None,  # no transaction is ever left open
            )
        except sqlite3.Error as exc:
            self._log_failure("cannot open", exc)
            return False
        self._conn = conn
        self._known = self._read()
        return True

    def _read(self) -> int | None:
        """The file's data version for the watch's connection; None when it cannot be read."""
        if self._conn is None:
            return None
        try:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as exc:
            self._log_failure("cannot read", exc)
            return None
        if self._failing:
            self._failing = False
            log.info("change listener: watching %s for other processes again", self._path)
        return int(row[0])

    def _log_failure(self, what: str, exc: sqlite3.Error) -> None:
        if not self._failing:
            self._failing = True
            log.warning(
                "change listener: %s %s to hear other processes (%s); trying again every %.1f s",
                what,
                self._path,
                exc,
                self._interval_s,
            )

    # -- this process's commits (engine events, on the committing thread) ------------------------

    def _on_begin(self, conn: Connection) -> None:
        self._after_own_commit()
        rows = _rows_changed(conn)
        if rows is not None:
            conn.info[self._begin_key] = rows

    def _on_commit(self, conn: Connection) -> None:
        at_begin = conn.info.pop(self._begin_key, None)
        if at_begin is not None and at_begin == _rows_changed(conn):
            return  # it wrote no row: the commit moves no version
        tid = threading.get_ident()
        with self._lock:
            if self._conn is None:
                return
            version = self._read()  # this transaction holds the write lock: nobody commits now
            moved = version is None or version != self._known
            if moved and not self._in_flight:  # no commit of ours explains the move
                self._foreign = True
            self._known = version
            self._in_flight.add(tid)

    def _on_rollback(self, _conn: Connection) -> None:
        self._after_own_commit()

    def _on_checkin(self, _dbapi_connection: Any, _record: Any) -> None:
        self._after_own_commit()

    def _after_own_commit(self) -> None:
        tid = threading.get_ident()
        if tid not in self._in_flight:  # the common case, without taking the lock
            return
        with self._lock:
            if tid not in self._in_flight:
                return
            self._in_flight.discard(tid)
            version = self._read()
            if version is None:
                self._foreign = True  # unknown: read everything again rather than miss it
            self._known = version

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.check()
            except Exception:
                log.exception("change listener: checking %s failed; checking goes on", self._path)


def _rows_changed(conn: Connection) -> int | None:
    """Rows the DBAPI connection under ``conn`` changed since it opened (None: not known)."""
    dbapi = conn.connection.dbapi_connection
    value = getattr(dbapi, "total_changes", None)
    return value if isinstance(value, int) else None
