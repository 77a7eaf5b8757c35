"""Facts about the site for window titles, the status bar and receipts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.store.database import Database
from app.store.models import Building, Meter, Room, Site
from app.vocabulary import Utility


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


def power_groups(db: Database) -> dict[str, list[int]]:
    """Electricity meters in service by where they are, for load charts: ``site``,
    ``building:A`` and ``floor:A-3`` (building code, floor number) -> meter ids."""
    groups: dict[str, list[int]] = {"site": []}
    with db.session() as session:
        rows = session.execute(
            select(Meter.id, Building.code, Room.floor)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .where(Meter.utility == Utility.ELECTRICITY, Meter.removed_at.is_(None))
            .order_by(Meter.id)
        )
        for meter_id, code, floor in rows:
            groups["site"].append(meter_id)
            groups.setdefault(f"building:{code}", []).append(meter_id)
            groups.setdefault(f"floor:{code}-{floor}", []).append(meter_id)
    return groups
