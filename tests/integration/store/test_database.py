"""The database handle: damaged or unreachable databases are explained and left untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from app.store.database import Database, ensure_writable_dir, sqlite_url_for
from app.store.errors import DatabaseUnreachable, DatabaseUnreadable, DataDirError
from app.store.migrate import upgrade
from app.store.models import Bus, Meter, Site
from app.vocabulary import Utility

UNREACHABLE = "postgresql+psycopg://meterdesk:s3cret-pw@127.0.0.1:1/meterdesk"


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} - {"meterdesk.sqlite3"}


def _check(path: Path) -> DatabaseUnreadable:
    db = Database(sqlite_url_for(path.parent))
    try:
        with pytest.raises(DatabaseUnreadable) as info:
            db.check_readable()
    finally:
        db.dispose()
    return info.value


def _meterdesk_file(folder: Path) -> Path:
    """A migrated MeterDesk database with some rows in it, closed."""
    db = Database(sqlite_url_for(folder))
    upgrade(db)
    with db.transaction() as session:
        bus = Bus(name="Block A electricity 1", url="sim://a1")
        session.add(bus)
        session.flush()
        for n in range(1, 401):
            session.add(
                Meter(
                    serial=f"E{n:05d}",
                    utility=Utility.ELECTRICITY,
                    profile="acrel-ddsy1352",
                    bus_id=bus.id,
                    address=str(n),
                )
            )
    db.dispose()
    return folder / "meterdesk.sqlite3"


def _clobber(path: Path, offset: int, length: int) -> bytes:
    data = bytearray(path.read_bytes())
    data[offset : offset + length] = b"\xab" * length
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_garbage_file_is_unreadable_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "meterdesk.sqlite3"
    garbage = b"These are the minutes of the 2019 residents' meeting.\n" * 200
    path.write_bytes(garbage)

    error = _check(path)

    assert str(path) in str(error)
    assert "left untouched" in str(error)
    assert error.exit_code == 5
    assert path.read_bytes() == garbage
    assert _leftovers(tmp_path) == set()  # no -wal, -shm or -journal beside it


def test_a_damaged_meterdesk_database_is_unreadable_and_left_untouched(tmp_path: Path) -> None:
    path = _meterdesk_file(tmp_path)
    assert path.stat().st_size > 8 * 4096
    damaged = _clobber(path, 4 * 4096, 3 * 4096)

    error = _check(path)

    assert str(path) in str(error)
    assert path.read_bytes() == damaged
    assert _leftovers(tmp_path) == set()


def test_a_damaged_file_in_rollback_journal_mode_keeps_its_header(tmp_path: Path) -> None:
    """The check must not switch a damaged file to WAL: that rewrites bytes 18-19."""
    path = tmp_path / "meterdesk.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 200,) for _ in range(2000)])
    conn.execute("CREATE INDEX ix_t_v ON t (v)")
    conn.commit()
    conn.close()
    damaged = _clobber(path, 5 * 4096, 3000)

    _check(path)

    assert path.read_bytes() == damaged
    assert _leftovers(tmp_path) == set()


def test_a_missing_file_is_created_empty_and_readable(tmp_path: Path) -> None:
    db = Database(sqlite_url_for(tmp_path))
    try:
        db.check_readable()
    finally:
        db.dispose()
    assert db.file_path == tmp_path / "meterdesk.sqlite3"
    assert db.display_name == str(tmp_path / "meterdesk.sqlite3")


def test_an_upgraded_sqlite_file_uses_write_ahead_logging(tmp_path: Path) -> None:
    db = Database(sqlite_url_for(tmp_path))
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def test_an_unreachable_server_is_explained_without_the_password() -> None:
    db = Database(UNREACHABLE)
    try:
        with pytest.raises(DatabaseUnreachable, match="Cannot connect to the database") as info:
            db.check_readable()
    finally:
        db.dispose()
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "s3cret-pw" not in message
    assert info.value.exit_code == 7
    assert "s3cret-pw" not in db.display_name


def test_a_server_database_is_readable(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.check_readable()
        assert db.file_path is None
    finally:
        db.dispose()


def test_ensure_writable_dir_creates_nested_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    ensure_writable_dir(target)
    assert target.is_dir()
    assert list(target.iterdir()) == []  # the write probe is gone


def test_ensure_writable_dir_explains_a_folder_that_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be", encoding="utf-8")
    with pytest.raises(DataDirError, match="cannot be written") as info:
        ensure_writable_dir(blocker / "data")
    assert str(blocker / "data") in str(info.value)
    assert "--data-dir" in str(info.value)
    assert info.value.exit_code == 4


def test_a_transaction_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with db.transaction() as session:
        session.add(Site(name="Committed"))

    def cancelled() -> None:
        with db.transaction() as session:
            session.add(Site(name="Rolled back"))
            session.flush()
            raise RuntimeError("cashier pressed cancel")

    with pytest.raises(RuntimeError):
        cancelled()
    with db.session() as session:
        assert session.scalars(select(Site.name)).all() == ["Committed"]


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(
            Meter(serial="E1", utility=Utility.ELECTRICITY, profile="p", bus_id=999, address="1")
        )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Meter)) == 0
