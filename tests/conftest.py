"""Fixtures shared by every test layer.

Databases: ``db_url`` runs a test on SQLite and on PostgreSQL. PostgreSQL comes from
``METERDESK_TEST_PG_URL`` (an admin URL, e.g. postgresql+psycopg://postgres:pw@127.0.0.1/postgres);
each test gets a database of its own, dropped afterwards. Without the variable the PostgreSQL
cases are skipped with the reason shown, except under CI=true, where that is a failure.
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
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade

PG_ENV = "METERDESK_TEST_PG_URL"


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


def _postgres_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set under CI=true: .ci/run must start PostgreSQL")
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} to run these cases")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    admin_url = make_url(_postgres_admin_url())
    name = f"meterdesk_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at {admin_url.render_as_string()} is not reachable: {exc}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once on SQLite (in tmp_path) and once on PostgreSQL."""
    if request.param == "sqlite":
        folder = tmp_path / "sqlite-db"
        folder.mkdir()
        return sqlite_url_for(folder)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = Database(db_url)
    upgrade(database)
    yield database
    database.dispose()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With METERDESK_TESTS_WITHOUT_QT=1 (``make test`` runs unit and integration tests so), the
    run fails if anything imported Qt: the Qt-free layers must work without it."""
    if os.environ.get("METERDESK_TESTS_WITHOUT_QT") == "1":
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {"PySide6", "shiboken6"})
        if leaked:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"FAILED: Qt was imported by the Qt-free tests: {leaked[:5]}")
