"""A full disk and a database held locked too long are said as what they are, with what to do,
never as a damaged database to restore from a backup (which would lose the day's work) nor as
a driver's traceback; on PostgreSQL the message names who holds the lock (pg_stat_activity)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import app.store.database as database_module
from app.store.database import Database, sqlite_url_for
from app.store.errors import (
    SQLITE_IOERR,
    DatabaseBusy,
    DatabaseFull,
    explain_failure,
    failure_kind,
)
from app.store.failures import explained


def explained_work(db: Database, work: Callable[[Session], object]) -> None:
    """``work`` in one transaction, as a command runs its unit of work."""
    with explained(db), db.transaction() as session:
        work(session)


def fill_the_disk(session: Session) -> None:
    pages = session.execute(text("PRAGMA page_count")).scalar_one()
    session.execute(text(f"PRAGMA max_page_count = {pages}"))  # as if the disk had filled up
    session.execute(text("INSERT INTO note VALUES (:b)"), {"b": "x" * 100_000})


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A SQLite database with one table, waiting 0.2 s (not 10 s) for a lock."""
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    db = Database(sqlite_url_for(tmp_path))
    with db.transaction() as session:
        session.execute(text("CREATE TABLE note (body TEXT)"))
    yield db
    db.dispose()


def test_a_full_sqlite_file_says_the_disk_is_full_not_restore_a_backup(
    sqlite_db: Database,
) -> None:
    with pytest.raises(DatabaseFull) as caught:
        explained_work(sqlite_db, fill_the_disk)
    message = str(caught.value)
    assert message.startswith(f"The disk of the database {sqlite_db.file_path} is full")
    assert "Do not restore a backup" in message
    assert "cannot be read" not in message
    with sqlite_db.session() as session:  # nothing half-written
        assert session.execute(text("SELECT count(*) FROM note")).scalar_one() == 0


def test_a_sqlite_file_locked_too_long_says_busy_and_to_try_again(sqlite_db: Database) -> None:
    assert sqlite_db.file_path is not None
    holder = sqlite3.connect(sqlite_db.file_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a backup or another console mid-change
        with pytest.raises(DatabaseBusy) as caught:
            explained_work(sqlite_db, lambda s: s.execute(text("INSERT INTO note VALUES ('x')")))
    finally:
        holder.close()
    assert str(caught.value) == (
        f"The database {sqlite_db.file_path} is busy: another program kept it locked longer "
        "than MeterDesk waits, so nothing was saved. Wait until that program has finished (a "
        "backup, a large import, a console left in the middle of a change), then do it again."
    )


def test_other_database_errors_pass_unchanged(sqlite_db: Database) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        explained_work(sqlite_db, lambda s: s.execute(text("SELECT * FROM nowhere")))


def test_a_disk_io_error_on_a_disk_without_room_is_the_full_disk() -> None:
    error = SimpleNamespace(sqlite_errorcode=SQLITE_IOERR | (3 << 8))  # SQLITE_IOERR_WRITE
    assert failure_kind(error) == "io"  # type: ignore[arg-type]
    assert failure_kind(error, folder_free_bytes=10 * 1024**3) == "io"  # type: ignore[arg-type]
    assert failure_kind(error, folder_free_bytes=4096) == "full"  # type: ignore[arg-type]
    full = explain_failure(error, "x.sqlite3", folder_free_bytes=0)  # type: ignore[arg-type]
    assert isinstance(full, DatabaseFull)
    assert explain_failure(error, "x.sqlite3") is None  # type: ignore[arg-type]


def wait_briefly_for_the_row(session: Session) -> None:
    session.execute(text("SET LOCAL lock_timeout = '200ms'"))
    session.execute(text("UPDATE note SET body = 'y' WHERE id = 1"))


@pytest.mark.postgres
def test_a_postgresql_lock_held_too_long_names_who_holds_it(postgres_url: str) -> None:
    db = Database(postgres_url)
    holder = create_engine(
        postgres_url, connect_args={"application_name": "MeterDesk serve on counter-2"}
    )
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE note (id int PRIMARY KEY, body text)"))
            session.execute(text("INSERT INTO note VALUES (1, 'x')"))
        with holder.connect() as held:
            held.execute(text("SELECT * FROM note WHERE id = 1 FOR UPDATE"))
            with pytest.raises(DatabaseBusy) as caught:
                explained_work(db, wait_briefly_for_the_row)
            held.rollback()
    finally:
        holder.dispose()
        db.dispose()
    message = str(caught.value)
    assert "is busy: another program kept it locked longer than MeterDesk waits" in message
    assert "It is held by MeterDesk serve on counter-2 (user " in message
    assert "idle in transaction" in message
