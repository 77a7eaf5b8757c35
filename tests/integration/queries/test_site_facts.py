"""Facts about the site for titles and receipts."""

from __future__ import annotations

from app.demo.site import seed_demo_site
from app.queries.site_facts import SiteInfo, site_info
from app.store.database import Database


def test_an_empty_database_has_no_site(db: Database) -> None:
    assert site_info(db) is None


def test_the_demo_site_is_described(db: Database) -> None:
    seed_demo_site(db)
    assert site_info(db) == SiteInfo("Riverside University Dormitories", "CNY", "Asia/Shanghai")
