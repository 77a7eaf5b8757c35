"""Fixtures shared by every test layer.

Databases: ``db_url`` runs a test on SQLite and on PostgreSQL. PostgreSQL comes from
``METERDESK_TEST_PG_URL`` (an admin URL, e.g. postgresql+psycopg://postgres:pw@127.0.0.1/postgres);
each test gets a database of its own, dropped afterwards. Without the variable, or when its
server cannot be reached, the PostgreSQL cases are skipped with the reason shown, except under
CI=true, where that is a failure.
Tests never touch the operator's data folder: METERDESK_DATA_DIR points into tmp_path (and
hypothesis keeps its files in pytest's tmp folder, not in the repository).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.store.database import DB_FILE_NAME, Database, sqlite_url_for
from app.store.migrate import upgrade
from tests.databases import (
    _create_or_skip,
    _drop_database,
    _fresh_postgres,
    _postgres_admin_url,
    _sqlite_copy,
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Hypothesis writes caches to ./.hypothesis, already while collecting: keep them in
    pytest's tmp folder (the one ``tmp_path_factory`` hands out) instead of the repository."""
    from hypothesis.configuration import set_hypothesis_home_dir

    factory: pytest.TempPathFactory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    set_hypothesis_home_dir(factory.mktemp("hypothesis"))


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "userdata"
    monkeypatch.setenv("METERDESK_DATA_DIR", str(data))
    return data


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    yield from _fresh_postgres()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once on SQLite (in tmp_path) and once on PostgreSQL."""
    if request.param == "sqlite":
        folder = tmp_path / "sqlite-db"
        folder.mkdir()
        return sqlite_url_for(folder)
    url: str = request.getfixturevalue("postgres_url")
    return url


# -- migrated databases: one migration per session, copied for each test ----------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session (checkpointed: the copy needs no WAL file)."""
    folder = tmp_path_factory.mktemp("migrated-template")
    database = Database(sqlite_url_for(folder))
    upgrade(database)
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return folder / DB_FILE_NAME


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per session; each test's database is a copy made
    by ``CREATE DATABASE ... TEMPLATE`` (nobody stays connected to it)."""
    admin_url = make_url(_postgres_admin_url())
    name = f"meterdesk_template_{uuid.uuid4().hex[:12]}"
    _create_or_skip(admin_url, name)
    try:
        database = Database(admin_url.set(database=name))
        upgrade(database)
        database.dispose()
        yield name
    finally:
        _drop_database(admin_url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at the newest schema with nothing in it, on SQLite and on PostgreSQL: a copy
    of the session's migrated template (the same schema ``upgrade`` makes, without running the
    migrations again for every test)."""
    if request.param == "sqlite":
        yield _sqlite_copy(request.getfixturevalue("_sqlite_template"), tmp_path / "sqlite-db")
        return
    yield from _fresh_postgres(request.getfixturevalue("_postgres_template"))


@pytest.fixture
def db(migrated_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = Database(migrated_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session", autouse=True)
def _qt_stays_out() -> Iterator[None]:
    """With METERDESK_TESTS_WITHOUT_QT=1 (``make test`` runs unit and integration tests so), the
    run fails if anything imported Qt: the Qt-free layers must work without it. Checked when
    each test process (an xdist worker, or the one process) ends its session."""
    yield
    if os.environ.get("METERDESK_TESTS_WITHOUT_QT") == "1":
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {"PySide6", "shiboken6"})
        assert not leaked, f"Qt was imported by the Qt-free tests: {leaked[:5]}"
