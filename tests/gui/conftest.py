"""GUI fixtures: a seeded demo database and the real main window on the offscreen platform."""

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
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade
from app.ui.background import wait_for_background
from app.views.main_window import MainWindow


@pytest.fixture(scope="session")
def demo_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded demo database per session; tests copy it so none sees another's changes."""
    folder = tmp_path_factory.mktemp("demo-template")
    db = Database(sqlite_url_for(folder))
    upgrade(db)
    seed_demo_site(db)
    db.dispose()
    return folder / "meterdesk.sqlite3"


@pytest.fixture
def demo_db(demo_db_file: Path, tmp_path: Path) -> Iterator[Database]:
    folder = tmp_path / "db"
    folder.mkdir()
    (folder / "meterdesk.sqlite3").write_bytes(demo_db_file.read_bytes())
    db = Database(sqlite_url_for(folder))
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
