"""Engine and session factory for SQLite (embedded default) and PostgreSQL.

A ``Database`` is made once per process by the composition root (GUI or CLI) and passed to
services, which open one transaction each with ``db.transaction()``.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.store.audit_key import SESSION_INFO_KEY, AuditKeys
from app.store.change_capture import ChangeCapture
from app.store.errors import DatabaseUnreachable, DatabaseUnreadable, DataDirError

# How long a SQLite write waits for another writer before it gives up: past the longest lock a
# counter sees (another console's import, a backup), so a recharge waits it out; the message
# then says the database is busy (``app.store.failures``).
SQLITE_BUSY_TIMEOUT_MS = 45_000
DB_FILE_NAME = "meterdesk.sqlite3"


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / DB_FILE_NAME).as_posix()}"


def site_database(db_url: str | None, data_dir: Path) -> Database:
    """The site's database as the options name it: ``db_url``, else SQLite in ``data_dir``.
    The audit key lives beside a SQLite file, and in ``data_dir`` for a server database (each
    console keeps its copy of the key in its own data folder)."""
    url = db_url or sqlite_url_for(data_dir)
    server = make_url(url).get_backend_name() != "sqlite"
    return Database(url, key_dir=data_dir if server else None)


def ensure_writable_dir(path: Path) -> None:
    """Create ``path`` if needed and prove it can be written; explain the problem if not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(
            f"The data folder {path} cannot be written ({exc.strerror or exc}). "
            "Fix its permissions or choose another folder with --data-dir."
        ) from exc


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # No journal_mode here: switching to WAL rewrites the file header, and a file that may be
        # damaged or foreign must stay untouched. ``Database.enable_wal`` does it (migrate.upgrade).
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
    # SQLAlchemy, not the sqlite3 module, says when a transaction begins (``_sqlite_on_begin``).
    dbapi_connection.isolation_level = None


IMMEDIATE = "meterdesk_immediate"


def _sqlite_on_begin(conn: Connection) -> None:
    """BEGIN, or BEGIN IMMEDIATE for a unit of work (``Database.transaction``): it takes the
    write lock first, waiting up to the busy timeout, so a transaction that reads and then
    writes never fails because another process wrote in between (SQLITE_BUSY_SNAPSHOT)."""
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(IMMEDIATE) else "BEGIN")


class Database:
    """One database, by SQLAlchemy URL. Thread-safe: each thread opens its own sessions.

    It carries where the audit key lives (``audit_keys``), the data folder's ``audit.key``:
    ``key_dir``, else the folder of a SQLite file. Every session it opens has it in
    ``session.info`` for ``record_audit``. A PostgreSQL handle opened without ``key_dir`` has
    no key: it writes plain events on a trail that was never sealed, and refuses to write on
    one that was (see app/services/audit.py)."""

    def __init__(self, url: str | URL, *, echo: bool = False, key_dir: Path | None = None) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.file_path: Path | None = None
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                self.file_path = Path(database)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
            # Named in pg_stat_activity, so a busy message can say which PC holds a lock.
            name = f"MeterDesk on {socket.gethostname()}"[:63]  # PostgreSQL keeps 63 bytes
            kwargs["connect_args"] = {"application_name": name}
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        if key_dir is None and self.file_path is not None:
            key_dir = self.file_path.parent
        self.audit_keys = AuditKeys(key_dir)
        self._sessions = sessionmaker(
            self.engine, expire_on_commit=False, info={SESSION_INFO_KEY: self.audit_keys}
        )
        # What each committed transaction changed, published to listeners (app.store.change_feed).
        self.changes = ChangeCapture(self._sessions, notify=not self.is_sqlite)

    @property
    def display_name(self) -> str:
        """Where the data lives, for the status bar and messages (never shows a password)."""
        if self.file_path is not None:
            return str(self.file_path)
        return self.url.render_as_string(hide_password=True)

    def check_readable(self) -> None:
        """Open a connection and read the schema; explain an unreadable or unreachable database.

        Reads only: a damaged file is left exactly as it was.
        """
        if self.file_path is not None and self.file_path.exists():
            if not os.access(self.file_path, os.R_OK):
                raise DatabaseUnreadable(
                    f"The database file {self.file_path} cannot be read (permission denied). "
                    "Fix its permissions or choose another folder with --data-dir."
                )
            if not os.access(self.file_path, os.W_OK):
                raise DataDirError(
                    f"The database file {self.file_path} is read-only. "
                    "Fix its permissions or choose another folder with --data-dir."
                )
        try:
            with self.engine.connect() as conn:
                conn.execute(
                    text("SELECT count(*) FROM sqlite_master" if self.is_sqlite else "SELECT 1")
                )
                if self.is_sqlite:
                    result = conn.execute(text("PRAGMA quick_check")).scalar()
                    if result != "ok":
                        self.engine.dispose()
                        raise DatabaseUnreadable(
                            f"The database file {self.file_path} is damaged ({result}). "
                            "It was left untouched: restore a backup, or choose another "
                            "folder with --data-dir."
                        )
        except (OperationalError, DatabaseError) as exc:
            self.engine.dispose()
            from app.store.failures import store_error_of  # it imports this module

            known = store_error_of(exc, self)  # a full disk or a busy database is not damage
            if known is not None:
                raise known from exc
            reason = str(exc.orig) if exc.orig is not None else str(exc)
            if self.is_sqlite:
                raise DatabaseUnreadable(
                    f"The database file {self.display_name} cannot be read ({reason}). "
                    "It was left untouched: restore a backup, or choose another folder with "
                    "--data-dir."
                ) from exc
            raise DatabaseUnreachable(
                f"Cannot connect to the database {self.display_name} ({reason.strip()}). "
                "Check that the server runs and the URL, user and password are right."
            ) from exc

    def enable_wal(self) -> None:
        """Put a SQLite file in write-ahead-log mode (stored in the file; no-op elsewhere).

        Called once the file is known to be a MeterDesk database, never before: it writes.
        """
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "PRAGMA journal_mode=WAL"
                )

    def session(self) -> Session:
        """A new session; the caller closes it (use as a context manager)."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception.

        On SQLite it holds the write lock from its first statement (BEGIN IMMEDIATE), so units
        of work of several processes run one after the other instead of failing."""
        with self._sessions() as session, session.begin():
            if self.is_sqlite:
                session.connection(execution_options={IMMEDIATE: True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
