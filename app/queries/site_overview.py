"""The site at a glance for the overview dashboard: every room with the state that matters most
now, and the headline figures (meters online, accounts in arrears, today's energy and money).

A room's state is the most urgent of what holds for it, in this order: a meter tripped by the
load guard, the account cut off, a meter offline, keep power ordered, the account in alarm 2 (or
below it: zero, overdraft), in alarm 1, normal; a room with no open account is vacant. Live load
is not here: it comes from the runtime's LiveStore, which the dashboard reads itself.

"Today" is the site's local day. Energy today is, per electricity meter, the newest register
reading of the day minus the newest one before the day began (the first of the day when there
is none), times the meter's multiplier (CT ratio); held (implausible) readings do not count.
Money taken today is what the counter took net of refunds and of reversed recharges and refunds;
usage billed today is consumption and fees posted today.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.queries.site_facts import site_zone
from app.store.database import Database
from app.store.models import Account, Building, IntervalReading, LedgerEntry, Meter, Room
from app.vocabulary import (
    AccountStatus,
    LedgerKind,
    MeterStatus,
    OffReason,
    ReadingQuality,
    SupplyState,
    Utility,
)


class RoomState(StrEnum):
    """What a room's tile shows, most urgent first (the order of ``ROOM_STATES``)."""

    LOAD_TRIP = "load_trip"
    CUT_OFF = "cut_off"
    OFFLINE = "offline"
    KEEP_POWER = "keep_power"
    ALARM_2 = "alarm_2"
    ALARM_1 = "alarm_1"
    NORMAL = "normal"
    VACANT = "vacant"


ROOM_STATES = tuple(RoomState)
_BELOW_ALARM_2 = {SupplyState.ALARM_2, SupplyState.ZERO, SupplyState.OVERDRAFT}
_IN_SERVICE = (MeterStatus.ACTIVE, MeterStatus.OFFLINE)
_MONEY_IN = (LedgerKind.RECHARGE, LedgerKind.REFUND)
_USAGE = (LedgerKind.CONSUMPTION, LedgerKind.FEE)


@dataclass(frozen=True, slots=True)
class RoomMeter:
    id: int
    serial: str
    utility: Utility
    status: MeterStatus
    supply_on: bool | None  # the relay or valve as last verified
    off_reason: str | None  # arrears | load_guard | manual, while it is off
    last_seen_at: datetime | None  # its last good poll


@dataclass(frozen=True, slots=True)
class RoomTile:
    room_id: int
    label: str  # "A-305"
    building: str  # the building's code
    floor: int
    number: str
    state: RoomState
    account_id: int | None
    account_number: str
    holder_name: str
    balance_minor: int | None
    meters: tuple[RoomMeter, ...]
    offline_meters: int

    @property
    def meter_ids(self) -> tuple[int, ...]:
        return tuple(m.id for m in self.meters)


@dataclass(frozen=True, slots=True)
class BuildingInfo:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Headline:
    meters_in_service: int
    meters_online: int  # answered their last poll
    meters_offline: int
    accounts_open: int
    accounts_in_arrears: int  # balance below zero
    arrears_minor: int  # what those accounts owe together (a positive number)
    energy_today_kwh: Decimal
    taken_today_minor: int  # at the counter, net of refunds and reversals
    usage_today_minor: int  # consumption and fees posted today (a positive number)


@dataclass(frozen=True, slots=True)
class SiteOverview:
    buildings: tuple[BuildingInfo, ...]
    tiles: tuple[RoomTile, ...]  # by building, floor, room number
    headline: Headline
    counts: dict[RoomState, int]
    day: str  # the site-local day of the "today" figures, ISO
    taken_at: datetime  # UTC


def room_state(
    supply: SupplyState | None,
    *,
    load_trip: bool,
    offline: bool,
    keep_power: bool,
) -> RoomState:
    """The tile's state from what holds for the room (``supply`` None: no open account)."""
    if load_trip:
        return RoomState.LOAD_TRIP
    if supply is SupplyState.CUT_OFF:
        return RoomState.CUT_OFF
    if offline:
        return RoomState.OFFLINE
    if supply is None:
        return RoomState.VACANT
    if keep_power:
        return RoomState.KEEP_POWER
    if supply in _BELOW_ALARM_2:
        return RoomState.ALARM_2
    if supply is SupplyState.ALARM_1:
        return RoomState.ALARM_1
    return RoomState.NORMAL


def site_overview(db: Database, now: datetime | None = None) -> SiteOverview:
    """Every room's tile and the headline figures, read in one session (a few queries)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with db.session() as session:
        zone = site_zone(session) or ZoneInfo("UTC")
        local_day = now.astimezone(zone).date()
        day_start = datetime.combine(local_day, time(0), zone).astimezone(UTC)
        buildings = tuple(
            BuildingInfo(code, name)
            for code, name in session.execute(
                select(Building.code, Building.name).order_by(Building.code)
            )
        )
        accounts = _open_accounts(session)
        meters = _meters_by_room(session)
        tiles = tuple(_tiles(session, accounts, meters, now))
        headline = _headline(session, day_start, day_start + timedelta(days=1))
    counts = Counter(tile.state for tile in tiles)
    return SiteOverview(
        buildings=buildings,
        tiles=tiles,
        headline=headline,
        counts={state: counts.get(state, 0) for state in ROOM_STATES},
        day=local_day.isoformat(),
        taken_at=now,
    )


@dataclass(frozen=True, slots=True)
class _Account:
    id: int
    number: str
    holder_name: str
    balance_minor: int
    supply_state: SupplyState
    keep_power_until: datetime | None


def _open_accounts(session: Session) -> dict[int, _Account]:
    """Open accounts by room id (the newest when a room has more than one)."""
    rows = session.execute(
        select(
            Account.room_id,
            Account.id,
            Account.number,
            Account.holder_name,
            Account.balance_minor,
            Account.supply_state,
            Account.keep_power_until,
        )
        .where(Account.status == AccountStatus.OPEN, Account.room_id.is_not(None))
        .order_by(Account.id)
    )
    return {
        room_id: _Account(account_id, number, holder, balance, supply, keep_until)
        for room_id, account_id, number, holder, balance, supply, keep_until in rows
        if room_id is not None
    }


def _meters_by_room(session: Session) -> dict[int, list[RoomMeter]]:
    found: dict[int, list[RoomMeter]] = {}
    rows = session.execute(
        select(
            Meter.room_id,
            Meter.id,
            Meter.serial,
            Meter.utility,
            Meter.status,
            Meter.relay_closed,
            Meter.off_reason,
            Meter.last_seen_at,
        )
        .where(
            Meter.removed_at.is_(None),
            Meter.room_id.is_not(None),
            Meter.status.in_(_IN_SERVICE),
        )
        .order_by(Meter.id)
    )
    for room_id, meter_id, serial, utility, status, closed, off_reason, seen in rows:
        if room_id is not None:
            meter = RoomMeter(meter_id, serial, utility, status, closed, off_reason, seen)
            found.setdefault(room_id, []).append(meter)
    return found


def _tiles(
    session: Session,
    accounts: dict[int, _Account],
    meters: dict[int, list[RoomMeter]],
    now: datetime,
) -> list[RoomTile]:
    tiles: list[RoomTile] = []
    rows = session.execute(
        select(Room.id, Room.label, Building.code, Room.floor, Room.number)
        .join(Building, Building.id == Room.building_id)
        .order_by(Building.code, Room.floor, Room.number)
    )
    for room_id, label, code, floor, number in rows:
        account = accounts.get(room_id)
        in_room = meters.get(room_id, [])
        offline = sum(1 for m in in_room if m.status is MeterStatus.OFFLINE)
        tripped = any(
            m.off_reason == OffReason.LOAD_GUARD.value and m.supply_on is not True for m in in_room
        )
        keep = (
            account is not None
            and account.keep_power_until is not None
            and account.keep_power_until > now
        )
        state = room_state(
            None if account is None else account.supply_state,
            load_trip=tripped,
            offline=offline > 0,
            keep_power=keep,
        )
        tiles.append(
            RoomTile(
                room_id=room_id,
                label=label,
                building=code,
                floor=floor,
                number=number,
                state=state,
                account_id=None if account is None else account.id,
                account_number="" if account is None else account.number,
                holder_name="" if account is None else account.holder_name,
                balance_minor=None if account is None else account.balance_minor,
                meters=tuple(in_room),
                offline_meters=offline,
            )
        )
    return tiles


def _headline(session: Session, start: datetime, end: datetime) -> Headline:
    """Counts over the whole site (accounts without a room included)."""
    status_counts = dict(
        session.execute(
            select(Meter.status, func.count())
            .where(Meter.removed_at.is_(None), Meter.status.in_(_IN_SERVICE))
            .group_by(Meter.status)
        ).all()
    )
    online = (
        session.scalar(
            select(func.count()).where(
                Meter.removed_at.is_(None),
                Meter.status == MeterStatus.ACTIVE,
                Meter.last_seen_at.is_not(None),
            )
        )
        or 0
    )
    all_open = session.execute(
        select(func.count(), func.coalesce(func.sum(Account.balance_minor), 0)).where(
            Account.status == AccountStatus.OPEN
        )
    ).one()
    owing = session.execute(
        select(func.count(), func.coalesce(func.sum(Account.balance_minor), 0)).where(
            Account.status == AccountStatus.OPEN, Account.balance_minor < 0
        )
    ).one()
    return Headline(
        meters_in_service=sum(status_counts.values()),
        meters_online=int(online),
        meters_offline=int(status_counts.get(MeterStatus.OFFLINE, 0)),
        accounts_open=int(all_open[0]),
        accounts_in_arrears=int(owing[0]),
        arrears_minor=-int(owing[1]),
        energy_today_kwh=_energy_today_kwh(session, start, end),
        taken_today_minor=_taken(session, start, end),
        usage_today_minor=-int(
            session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                    LedgerEntry.kind.in_(_USAGE),
                    LedgerEntry.created_at >= start,
                    LedgerEntry.created_at < end,
                )
            )
            or 0
        ),
    )


def _taken(session: Session, start: datetime, end: datetime) -> int:
    """Recharges and refunds posted in [start, end), and reversals of such entries."""
    direct = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.kind.in_(_MONEY_IN),
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    reversed_entry = aliased(LedgerEntry)
    reversals = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0))
        .join(reversed_entry, reversed_entry.id == LedgerEntry.reverses_id)
        .where(
            LedgerEntry.kind == LedgerKind.REVERSAL,
            reversed_entry.kind.in_(_MONEY_IN),
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
    )
    return int(direct or 0) + int(reversals or 0)


def _energy_today_kwh(session: Session, start: datetime, end: datetime) -> Decimal:
    counted = (
        select(
            IntervalReading.meter_id,
            IntervalReading.read_at,
            IntervalReading.register_units,
            func.coalesce(Meter.multiplier, 1).label("multiplier"),
        )
        .join(Meter, Meter.id == IntervalReading.meter_id)
        .where(
            Meter.utility == Utility.ELECTRICITY,
            IntervalReading.quality != ReadingQuality.HELD,
        )
        .subquery()
    )
    today = (
        select(
            counted.c.meter_id,
            counted.c.multiplier,
            func.max(counted.c.register_units).label("high"),
            func.min(counted.c.register_units).label("low"),
        )
        .where(counted.c.read_at >= start, counted.c.read_at < end)
        .group_by(counted.c.meter_id, counted.c.multiplier)
        .subquery()
    )
    before = (
        select(counted.c.meter_id, func.max(counted.c.register_units).label("last"))
        .where(counted.c.read_at < start)
        .group_by(counted.c.meter_id)
        .subquery()
    )
    used = session.scalar(
        select(
            func.coalesce(
                func.sum(
                    (today.c.high - func.coalesce(before.c.last, today.c.low)) * today.c.multiplier
                ),
                0,
            )
        )
        .select_from(today)
        .outerjoin(before, before.c.meter_id == today.c.meter_id)
    )
    return Decimal(max(0, int(used or 0))) / 1000
