"""GUI fixtures: a migrated database, a seeded demo database and the real main window on the
offscreen platform. Each database is a copy of the session's migrated SQLite template
(``_sqlite_template`` in tests/conftest.py), not a migration of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.application import make_application
from app.demo.site import DEMO_PASSWORD, seed_demo_site
from app.queries.site_facts import SiteInfo, site_info
from app.services.operators import login
from app.store.database import DB_FILE_NAME, Database
from app.ui.background import wait_for_background
from app.views.main_window import MainWindow
from tests.databases import _sqlite_copy


@pytest.fixture(scope="session")
def demo_db_file(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Path:
    """One seeded demo database per session; tests copy it so none sees another's changes."""
    folder = tmp_path_factory.mktemp("demo-template")
    db = Database(_sqlite_copy(_sqlite_template, folder))
    seed_demo_site(db)
    db.dispose()
    return folder / DB_FILE_NAME


@pytest.fixture
def migrated_db(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database with nothing in it: no site, no operator (a copy of the
    session's template)."""
    db = Database(_sqlite_copy(_sqlite_template, tmp_path / "migrated"))
    yield db
    wait_for_background()
    db.dispose()


@pytest.fixture
def demo_db(demo_db_file: Path, tmp_path: Path) -> Iterator[Database]:
    db = Database(_sqlite_copy(demo_db_file, tmp_path / "db"))
    yield db
    wait_for_background()
    db.dispose()


@pytest.fixture
def site(demo_db: Database) -> SiteInfo:
    info = site_info(demo_db)
    assert info is not None
    return info


@pytest.fixture
def main_window(qtbot, demo_db: Database, site: SiteInfo, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    make_application()
    admin = login(demo_db, "admin", DEMO_PASSWORD)
    window = MainWindow(
        demo_db, site, operator=admin, data_dir=tmp_path / "data", demo_password=DEMO_PASSWORD
    )
    qtbot.addWidget(window)
    window.show()
    with (
        qtbot.waitSignal(window.accounts.rows_loaded, timeout=10_000),
        qtbot.waitSignal(window.meters.rows_loaded, timeout=10_000),
    ):
        window.reload()
    yield window
    window.close()
    wait_for_background()
