"""Who polls and bills each unit of the field (the owner rows of ``app.runtime.ownership``),
for ``serve``'s standby message and the console's status bar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.store.database import Database
from app.store.field_lock import SITE_UNIT, unit_bus_id
from app.store.models import Bus, FieldOwner


@dataclass(frozen=True)
class OwnerRow:
    """Who holds a unit, as its row says."""

    unit: str
    what: str  # "the site" or the bus's name
    runtime_id: str
    host: str
    pid: int
    role: str  # "serve" or "console"
    since: datetime
    seen_at: datetime

    @property
    def is_site(self) -> bool:
        return self.unit == SITE_UNIT


def field_owners(db: Database) -> list[OwnerRow]:
    """Every unit's owner row, the site first, then buses by name."""
    with db.session() as session:
        rows = session.scalars(select(FieldOwner)).all()
        names: dict[int, str] = {}
        for key, name in session.execute(select(Bus.id, Bus.name)):
            names[key] = name
    owners = []
    for row in rows:
        bus_id = unit_bus_id(row.unit)
        what = "the site" if bus_id is None else names.get(bus_id, f"bus {bus_id}")
        owners.append(
            OwnerRow(
                row.unit, what, row.runtime_id, row.host, row.pid, row.role, row.since, row.seen_at
            )
        )
    return sorted(owners, key=lambda o: (not o.is_site, o.what.lower()))
