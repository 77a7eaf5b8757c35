"""Facts about the site for window titles, the status bar and receipts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.store.database import Database
from app.store.models import Site


@dataclass(frozen=True, slots=True)
class SiteInfo:
    name: str
    currency: str
    timezone: str


def site_info(db: Database) -> SiteInfo | None:
    """The site, or None for a database with no site yet."""
    with db.session() as session:
        site = session.scalars(select(Site).order_by(Site.id).limit(1)).first()
        if site is None:
            return None
        return SiteInfo(site.name, site.currency, site.timezone)
