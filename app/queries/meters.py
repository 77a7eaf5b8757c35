"""Read-only view of meters for the Meters screen and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.store.database import Database
from app.store.models import Account, Bus, Meter, Room
from app.vocabulary import MeterStatus, Utility

# Fetch big lists in chunks: the GUI thread gets the GIL between chunks.
YIELD_PER = 2000


@dataclass(frozen=True, slots=True)
class MeterRow:
    id: int
    serial: str
    utility: Utility
    profile: str
    bus_name: str
    bus_url: str
    address: str
    room_label: str
    account_number: str
    holder_name: str
    status: MeterStatus
    relay_closed: bool | None
    last_seen_at: datetime | None


def list_meters(db: Database, *, bus: str | None = None) -> list[MeterRow]:
    """Every meter with its bus, room and account, ordered by bus then address; ``bus``: only
    the meters of the bus of that name, as the set-up services match a typed name (case and
    extra spaces do not count)."""
    query = (
        select(
            Meter.id,
            Meter.serial,
            Meter.utility,
            Meter.profile,
            Bus.name,
            Bus.url,
            Meter.address,
            Room.label,
            Account.number,
            Account.holder_name,
            Meter.status,
            Meter.relay_closed,
            Meter.last_seen_at,
        )
        .join(Bus, Meter.bus_id == Bus.id)
        .outerjoin(Room, Meter.room_id == Room.id)
        .outerjoin(Account, Meter.account_id == Account.id)
        .order_by(Bus.name, Meter.id)
        .execution_options(yield_per=YIELD_PER)
    )
    if bus is not None:
        query = query.where(func.lower(Bus.name) == " ".join(bus.split()).lower())
    with db.session() as session:
        rows = session.execute(query).all()
    return [
        MeterRow(
            id=r[0],
            serial=r[1],
            utility=r[2],
            profile=r[3],
            bus_name=r[4],
            bus_url=r[5],
            address=r[6],
            room_label=r[7] or "",
            account_number=r[8] or "",
            holder_name=r[9] or "",
            status=r[10],
            relay_closed=r[11],
            last_seen_at=r[12],
        )
        for r in rows
    ]
