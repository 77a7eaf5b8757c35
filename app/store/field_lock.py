"""Who may poll and bill a bus: exclusive locks that end when their holder dies.

A unit of ownership is ``"site"`` (fees, the supply policy of every account, the money watch)
or ``"bus:<id>"`` (polling, rating and relay commands of one line). Exactly one runtime holds a
unit at a time, and the lock ends with the process, by a clean stop, kill -9 or a power cut:

- PostgreSQL: a session-level advisory lock per unit, held on one connection of our own kept
  open for the runtime's life (autocommit: no transaction stays open). The server drops the
  lock when that connection ends; TCP keepalives on it make a dead PC's connection end within
  about 11 s (5 s idle, then 3 probes 2 s apart).
- SQLite (one PC): an exclusive ``flock`` (Windows: ``msvcrt.locking``) on a small file per
  unit in the ``owners`` folder beside the database file; the kernel drops it with the process.

``healthy`` tells the holder whether its locks still stand (the PostgreSQL connection still
answers); a holder that finds them gone must stop polling at once.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from app.store.database import Database

log = logging.getLogger(__name__)

SITE_UNIT = "site"
# The first key of our two-key advisory locks: "MD" in ASCII, so other users of the server can
# tell ours apart in pg_locks (classid 19780).
ADVISORY_CLASS = 0x4D44
OWNERS_FOLDER = "owners"
_KEEPALIVES = (
    "SET tcp_keepalives_idle = 5",
    "SET tcp_keepalives_interval = 2",
    "SET tcp_keepalives_count = 3",
)


def bus_unit(bus_id: int) -> str:
    return f"bus:{bus_id}"


def unit_bus_id(unit: str) -> int | None:
    """The bus id of a ``bus:<id>`` unit, None for the site unit."""
    prefix, _, number = unit.partition(":")
    return int(number) if prefix == "bus" and number.isdigit() else None


def _advisory_key(unit: str) -> int:
    bus_id = unit_bus_id(unit)
    if bus_id is None:
        if unit != SITE_UNIT:
            raise ValueError(f"not a unit of ownership: {unit!r}")
        return 0
    return bus_id


class FieldLocks(Protocol):
    def try_claim(self, unit: str) -> bool:
        """Take ``unit`` if no other process holds it; True if this one holds it now."""
        ...

    def release(self, unit: str) -> None: ...

    def held(self) -> frozenset[str]: ...

    def healthy(self) -> bool:
        """Whether the locks held still stand; False once they may have been lost."""
        ...

    def close(self) -> None:
        """Release everything."""
        ...


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks on one dedicated connection."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            for statement in _KEEPALIVES:
                conn.execute(text(statement))
            self._conn = conn
        return self._conn

    def try_claim(self, unit: str) -> bool:
        with self._lock:
            if unit in self._held:
                return True
            try:
                got = (
                    self._connection()
                    .execute(
                        text("SELECT pg_try_advisory_lock(:cls, :key)"),
                        {"cls": ADVISORY_CLASS, "key": _advisory_key(unit)},
                    )
                    .scalar()
                )
            except DBAPIError:
                self._drop()
                return False
            if got:
                self._held.add(unit)
            return bool(got)

    def release(self, unit: str) -> None:
        with self._lock:
            if unit not in self._held:
                return
            self._held.discard(unit)
            try:
                self._connection().execute(
                    text("SELECT pg_advisory_unlock(:cls, :key)"),
                    {"cls": ADVISORY_CLASS, "key": _advisory_key(unit)},
                )
            except DBAPIError:
                self._drop()

    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def healthy(self) -> bool:
        with self._lock:
            if self._conn is None:
                return not self._held
            try:
                self._conn.execute(text("SELECT 1"))
            except DBAPIError:
                self._drop()
                return False
            return True

    def _drop(self) -> None:
        """The connection failed: every lock on it is gone (the server ends them with it)."""
        if self._held:
            log.warning("lost the database connection holding %s", sorted(self._held))
        self._held.clear()
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # already broken
                log.debug("closing the broken lock connection failed", exc_info=True)
        self._conn = None

    def close(self) -> None:
        with self._lock:
            self._held.clear()
            if self._conn is not None:
                try:
                    self._conn.close()  # ends the session, and every lock with it
                except DBAPIError:
                    log.debug("closing the lock connection failed", exc_info=True)
                self._conn = None


def _lock_file(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class FileLocks:
    """Exclusive lock files in ``<database folder>/owners`` (one PC, SQLite)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()

    def path_of(self, unit: str) -> Path:
        return self.folder / f"{unit.replace(':', '-')}.lock"

    def try_claim(self, unit: str) -> bool:
        with self._lock:
            if unit in self._files:
                return True
            _advisory_key(unit)  # refuses what is not a unit
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle = open(self.path_of(unit), "a+b")  # noqa: SIM115 - held while owned
            if not _lock_file(handle):
                handle.close()
                return False
            self._files[unit] = handle
            return True

    def release(self, unit: str) -> None:
        with self._lock:
            handle = self._files.pop(unit, None)
            if handle is not None:
                handle.close()  # closing the file drops its lock

    def held(self) -> frozenset[str]:
        return frozenset(self._files)

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


class SoleLocks:
    """Every unit is ours: an in-memory SQLite database (no other process can reach it), or a
    caller that feeds the engine itself and polls nothing (tests, benchmarks)."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    def try_claim(self, unit: str) -> bool:
        _advisory_key(unit)
        self._held.add(unit)
        return True

    def release(self, unit: str) -> None:
        self._held.discard(unit)

    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        self._held.clear()


def field_locks(db: Database) -> FieldLocks:
    """The lock kind that fits the database: advisory locks on a server, files beside SQLite."""
    if db.is_sqlite:
        if db.file_path is None:
            return SoleLocks()
        return FileLocks(db.file_path.parent / OWNERS_FOLDER)
    return AdvisoryLocks(db)
