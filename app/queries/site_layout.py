"""The site's layout for the Setup screen and the command line: buildings, rooms and buses with
what hangs on them, and what a new site still lacks (the setup guide's checklist)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.store.database import Database
from app.store.models import (
    Account,
    BalancePolicy,
    Building,
    Bus,
    LoadGuardSetting,
    Meter,
    Operator,
    Room,
    Site,
    TariffPlan,
)
from app.vocabulary import AccountStatus


@dataclass(frozen=True, slots=True)
class BuildingRow:
    id: int
    name: str
    code: str
    floors: int
    rooms: int
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class RoomRow:
    id: int
    label: str
    building: str
    floor: int
    number: str
    note: str
    meters: int
    account: str  # the open account's number, "" when vacant
    holder: str
    retired_at: datetime | None


@dataclass(frozen=True, slots=True)
class BusRow:
    id: int
    name: str
    port: str
    baud: int
    parity: str
    stopbits: int
    timeout_ms: int
    retries: int
    profile: str
    enabled: bool
    meters: int
    retired_at: datetime | None

    @property
    def line(self) -> str:
        return f"{self.baud} 8{self.parity}{self.stopbits}"


def list_buildings(db: Database, *, retired: bool = False) -> list[BuildingRow]:
    with db.session() as session:
        counts = dict(
            session.execute(
                select(Room.building_id, func.count())
                .where(Room.retired_at.is_(None))
                .group_by(Room.building_id)
            ).all()
        )
        query = select(Building).order_by(Building.name)
        if not retired:
            query = query.where(Building.retired_at.is_(None))
        return [
            BuildingRow(b.id, b.name, b.code, b.floors, counts.get(b.id, 0), b.retired_at)
            for b in session.scalars(query)
        ]


def list_rooms(
    db: Database, building: str | None = None, *, retired: bool = False
) -> list[RoomRow]:
    """Rooms by building, floor and number (``building``: its name or code)."""
    with db.session() as session:
        meters = Counter(
            session.scalars(
                select(Meter.room_id).where(Meter.removed_at.is_(None), Meter.room_id.is_not(None))
            )
        )
        query = (
            select(Room, Building.name, Account.number, Account.holder_name)
            .join(Building, Building.id == Room.building_id)
            .outerjoin(
                Account,
                (Account.room_id == Room.id) & (Account.status == AccountStatus.OPEN),
            )
            .order_by(Building.name, Room.floor, Room.number)
        )
        if building is not None:
            wanted = building.strip().lower()
            query = query.where(
                (func.lower(Building.name) == wanted) | (func.lower(Building.code) == wanted)
            )
        if not retired:
            query = query.where(Room.retired_at.is_(None))
        return [
            RoomRow(
                room.id,
                room.label,
                building_name,
                room.floor,
                room.number,
                room.note,
                meters.get(room.id, 0),
                number or "",
                holder or "",
                room.retired_at,
            )
            for room, building_name, number, holder in session.execute(query)
        ]


def list_buses(db: Database, *, retired: bool = False) -> list[BusRow]:
    with db.session() as session:
        counts = dict(
            session.execute(
                select(Meter.bus_id, func.count())
                .where(Meter.removed_at.is_(None))
                .group_by(Meter.bus_id)
            ).all()
        )
        query = select(Bus).order_by(Bus.name)
        if not retired:
            query = query.where(Bus.retired_at.is_(None))
        return [
            BusRow(
                b.id,
                b.name,
                b.url,
                b.baudrate,
                b.parity,
                b.stopbits,
                b.timeout_ms,
                b.retries,
                b.profile or "",
                b.enabled,
                counts.get(b.id, 0),
                b.retired_at,
            )
            for b in session.scalars(query)
        ]


@dataclass(frozen=True)
class SetupStep:
    """One line of the setup guide: what it is, whether it is done, and what there is (the
    screen words it: ``count`` of the step's things, ``extra`` a second count where one helps:
    buildings beside rooms, meters in rooms beside meters)."""

    key: str  # site, rooms, buses, meters, tariffs, policies, load_guard, tenants
    done: bool
    count: int
    extra: int = 0
    name: str = ""  # the site's name


@dataclass(frozen=True)
class SetupStatus:
    steps: tuple[SetupStep, ...]
    operators: int

    @property
    def complete(self) -> bool:
        return all(step.done for step in self.steps)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps if not step.done)

    def step(self, key: str) -> SetupStep:
        return next(s for s in self.steps if s.key == key)


def setup_status(db: Database) -> SetupStatus:
    """What a site has and what it still lacks, in the order an office sets it up."""
    with db.session() as session:

        def count(query: object) -> int:
            return int(session.scalar(query) or 0)  # type: ignore[call-overload]

        site = session.scalars(select(Site).limit(1)).first()
        rooms = count(select(func.count()).select_from(Room).where(Room.retired_at.is_(None)))
        buildings = count(
            select(func.count()).select_from(Building).where(Building.retired_at.is_(None))
        )
        buses = count(select(func.count()).select_from(Bus).where(Bus.retired_at.is_(None)))
        meters = count(select(func.count()).select_from(Meter).where(Meter.removed_at.is_(None)))
        placed = count(
            select(func.count())
            .select_from(Meter)
            .where(Meter.removed_at.is_(None), Meter.room_id.is_not(None))
        )
        plans = count(select(func.count()).select_from(TariffPlan))
        policies = count(select(func.count()).select_from(BalancePolicy))
        guards = count(select(func.count()).select_from(LoadGuardSetting))
        accounts = count(
            select(func.count()).select_from(Account).where(Account.status == AccountStatus.OPEN)
        )
        operators = count(select(func.count()).select_from(Operator))
    steps = (
        SetupStep("site", site is not None, 1 if site else 0, name=site.name if site else ""),
        SetupStep("rooms", rooms > 0, rooms, buildings),
        SetupStep("buses", buses > 0, buses),
        SetupStep("meters", meters > 0, meters, placed),
        SetupStep("tariffs", plans > 0, plans),
        SetupStep("policies", policies > 0, policies),
        SetupStep("load_guard", guards > 0, guards),
        SetupStep("tenants", accounts > 0, accounts),
    )
    return SetupStatus(steps, operators)
