"""Open a site's database for the console: folder, schema, first-start seeding. No Qt.

Used by the GUI's composition root (and by headless runs). Every failure is a ``StoreError``
whose message tells the operator what to do; nothing is overwritten on the way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app.demo.history import DEMO_HISTORY_DAYS
from app.demo.site import DemoSpec, seed_demo_site
from app.process.crash_report import CrashGuard, CrashNotice
from app.process.data_dir import make_private
from app.process.logging_setup import setup_logging
from app.queries.site_facts import SiteInfo, site_info
from app.store.backup import backup_sqlite
from app.store.database import Database, ensure_writable_dir, site_database
from app.store.migrate import schema_state, upgrade
from app.vocabulary import DEFAULT_CURRENCY, DEFAULT_TIMEZONE

log = logging.getLogger(__name__)


@dataclass
class OpenedSite:
    db: Database
    site: SiteInfo
    crash_guard: CrashGuard
    previous_crash: CrashNotice | None
    seeded_demo: bool
    backup_path: Path | None


def open_site(data_dir: Path, db_url: str | None, *, demo: bool) -> OpenedSite:
    """Prepare the folder, open and upgrade the database (backing an SQLite file up first),
    seed the demo site on its first start, and read the site."""
    ensure_writable_dir(data_dir)
    setup_logging(data_dir)
    make_private(data_dir)
    guard = CrashGuard(data_dir)
    previous = guard.previous_crash()
    db = site_database(db_url, data_dir)
    try:
        db.check_readable()
        state = schema_state(db)
        backup_path = None
        if not state.is_current:
            if not state.is_empty and db.file_path is not None:
                stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
                backup_path = backup_sqlite(
                    db, data_dir / "backups" / f"before-upgrade-{state.current}-{stamp}.sqlite3"
                )
                log.info("backed up %s to %s before upgrading", db.display_name, backup_path)
            upgrade(db)
        info = site_info(db)
        seeded = False
        if info is None and demo:
            seed_demo_site(db, DemoSpec(history_days=DEMO_HISTORY_DAYS))
            seeded = True
            info = site_info(db)
        if info is None:
            info = SiteInfo(name="New site", currency=DEFAULT_CURRENCY, timezone=DEFAULT_TIMEZONE)
    except Exception:
        db.dispose()
        raise
    return OpenedSite(db, info, guard, previous, seeded, backup_path)
