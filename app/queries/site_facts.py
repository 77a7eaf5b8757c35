"""Facts about the site for window titles, the status bar and receipts."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.database import Database
from app.store.models import Building, Meter, Room, Site
from app.vocabulary import DEFAULT_CURRENCY, Utility


@dataclass(frozen=True, slots=True)
class SiteInfo:
    name: str
    currency: str
    timezone: str


def site_currency(session: Session) -> str:
    """The site's ISO 4217 currency code (``DEFAULT_CURRENCY`` before a site exists)."""
    return session.scalar(select(Site.currency).order_by(Site.id).limit(1)) or DEFAULT_CURRENCY


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


def site_zone(session: Session) -> ZoneInfo | None:
    """The site's time zone, or None while no site is set up. A name this computer does not
    know raises ``ZoneInfoNotFoundError`` (callers say what to do about it)."""
    name = session.scalar(select(Site.timezone).order_by(Site.id).limit(1))
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except ValueError:  # a malformed name
        raise ZoneInfoNotFoundError(name) from None
