"""The overview dashboard's service: each room's state by precedence, counts per state, and the
headline figures (meters online, arrears, today's energy and money) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.queries.site_overview import RoomState, room_state, site_overview
from app.services.ledger import post_entry
from app.store.database import Database
from app.store.models import Account, IntervalReading, Meter, Room
from app.vocabulary import LedgerKind, MeterStatus, ReadingQuality, SupplyState, Utility


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=2, floors=2, rooms_per_floor=3))
    return db


def tile_of(db: Database, label: str):  # type: ignore[no-untyped-def]
    return next(t for t in site_overview(db).tiles if t.label == label)


def room_account(db: Database, label: str) -> tuple[int, list[int]]:
    with db.session() as session:
        room_id = session.scalars(select(Room.id).where(Room.label == label)).one()
        account_id = session.scalars(select(Account.id).where(Account.room_id == room_id)).one()
        meters = list(session.scalars(select(Meter.id).where(Meter.room_id == room_id)))
    return account_id, meters


def test_every_room_once_in_building_floor_order(site: Database) -> None:
    overview = site_overview(site)
    labels = [t.label for t in overview.tiles]
    assert len(labels) == 12 == len(set(labels))
    keys = [(t.building, t.floor, t.number) for t in overview.tiles]
    assert keys == sorted(keys)
    assert [b.code for b in overview.buildings] == ["A", "B"]
    assert sum(overview.counts.values()) == 12
    assert all(t.meter_ids for t in overview.tiles)


def test_state_precedence() -> None:
    normal = SupplyState.NORMAL
    assert room_state(normal, load_trip=False, offline=False, keep_power=False) is RoomState.NORMAL
    assert (
        room_state(SupplyState.CUT_OFF, load_trip=True, offline=True, keep_power=True)
        is RoomState.LOAD_TRIP
    )
    assert (
        room_state(SupplyState.CUT_OFF, load_trip=False, offline=True, keep_power=True)
        is RoomState.CUT_OFF
    )
    assert room_state(normal, load_trip=False, offline=True, keep_power=True) is RoomState.OFFLINE
    assert (
        room_state(SupplyState.ALARM_2, load_trip=False, offline=False, keep_power=True)
        is RoomState.KEEP_POWER
    )
    for below in (SupplyState.ALARM_2, SupplyState.ZERO, SupplyState.OVERDRAFT):
        assert room_state(below, load_trip=False, offline=False, keep_power=False) is (
            RoomState.ALARM_2
        )
    assert (
        room_state(SupplyState.ALARM_1, load_trip=False, offline=False, keep_power=False)
        is RoomState.ALARM_1
    )
    assert room_state(None, load_trip=False, offline=False, keep_power=False) is RoomState.VACANT
    assert room_state(None, load_trip=False, offline=True, keep_power=False) is RoomState.OFFLINE


def test_tiles_follow_accounts_and_meters(site: Database) -> None:
    labels = [t.label for t in site_overview(site).tiles]
    cut, tripped, offline, kept, low = labels[:5]
    before = site_overview(site).counts
    now = datetime.now(UTC)
    with site.transaction() as session:
        for label, state in ((cut, SupplyState.CUT_OFF), (low, SupplyState.ALARM_1)):
            account_id, _ = room_account(site, label)
            session.execute(
                update(Account).where(Account.id == account_id).values(supply_state=state)
            )
        _, meters = room_account(site, tripped)
        session.execute(
            update(Meter)
            .where(Meter.id == meters[0])
            .values(off_reason="load_guard", relay_closed=False)
        )
        _, meters = room_account(site, offline)
        session.execute(
            update(Meter).where(Meter.id == meters[-1]).values(status=MeterStatus.OFFLINE)
        )
        account_id, _ = room_account(site, kept)
        session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(supply_state=SupplyState.ZERO, keep_power_until=now + timedelta(hours=2))
        )
    assert tile_of(site, cut).state is RoomState.CUT_OFF
    assert tile_of(site, tripped).state is RoomState.LOAD_TRIP
    assert tile_of(site, offline).state is RoomState.OFFLINE
    assert tile_of(site, offline).offline_meters == 1
    assert tile_of(site, kept).state is RoomState.KEEP_POWER
    assert tile_of(site, low).state is RoomState.ALARM_1
    after = site_overview(site).counts
    changed = {RoomState.CUT_OFF, RoomState.LOAD_TRIP, RoomState.OFFLINE, RoomState.KEEP_POWER}
    for state in changed:
        assert after[state] == before[state] + 1
    assert sum(after.values()) == sum(before.values())

    # Keep power that has run out no longer shows; a closed account leaves a vacant room.
    with site.transaction() as session:
        account_id, _ = room_account(site, kept)
        session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(keep_power_until=now - timedelta(minutes=1))
        )
    assert tile_of(site, kept).state is RoomState.ALARM_2
    with site.transaction() as session:
        account_id, _ = room_account(site, low)
        session.execute(update(Account).where(Account.id == account_id).values(status="closed"))
    vacant = tile_of(site, low)
    assert vacant.state is RoomState.VACANT
    assert vacant.account_id is None
    assert vacant.balance_minor is None


def test_headline_meters_and_arrears(site: Database) -> None:
    first = site_overview(site).headline
    with site.session() as session:
        in_service = len(session.scalars(select(Meter.id)).all())
    assert in_service > 12  # electricity in every room, water in some
    assert first.meters_in_service == in_service
    assert first.meters_online == 0  # none has answered a poll yet
    assert first.accounts_open == 12
    with site.transaction() as session:
        meters = list(session.scalars(select(Meter.id).order_by(Meter.id)))
        session.execute(update(Meter).values(last_seen_at=datetime.now(UTC)))
        session.execute(
            update(Meter).where(Meter.id.in_(meters[:3])).values(status=MeterStatus.OFFLINE)
        )
        accounts = list(session.scalars(select(Account).order_by(Account.id)))
        for account in accounts[:2]:
            post_entry(
                session,
                account.id,
                LedgerKind.ADJUSTMENT,
                -(account.balance_minor + 250),
                reason="test arrears",
            )
    headline = site_overview(site).headline
    assert headline.meters_in_service == in_service
    assert headline.meters_offline == 3
    assert headline.meters_online == in_service - 3
    assert headline.accounts_in_arrears == first.accounts_in_arrears + 2
    assert headline.arrears_minor == first.arrears_minor + 500


def test_today_energy_and_money(site: Database) -> None:
    noon = datetime.combine(
        datetime.now(ZoneInfo("Asia/Shanghai")).date(), time(12), ZoneInfo("Asia/Shanghai")
    ).astimezone(UTC)  # the demo site's zone
    before = site_overview(site, noon).headline
    with site.transaction() as session:
        session.execute(delete(IntervalReading))
        first, second = session.scalars(
            select(Meter).where(Meter.utility == Utility.ELECTRICITY).order_by(Meter.id).limit(2)
        ).all()
        water = session.scalars(select(Meter).where(Meter.utility == Utility.WATER)).first()
        assert water is not None
        first.multiplier = 2
        account = session.get_one(Account, first.account_id)

        def reading(meter: Meter, at: datetime, units: int, held: bool = False) -> None:
            quality = ReadingQuality.HELD if held else ReadingQuality.GOOD
            session.add(
                IntervalReading(
                    meter_id=meter.id, read_at=at, register_units=units, quality=quality
                )
            )

        reading(first, noon - timedelta(days=3), 10_000)  # the newest before today
        reading(first, noon - timedelta(hours=2), 11_000)
        reading(first, noon - timedelta(hours=1), 11_500)
        reading(first, noon - timedelta(minutes=30), 999_000, held=True)  # never counted
        reading(second, noon - timedelta(hours=3), 100)  # no reading before today
        reading(second, noon - timedelta(hours=1), 400)
        reading(second, noon + timedelta(days=1), 90_000)  # tomorrow
        reading(water, noon - timedelta(hours=1), 55_000)  # litres, not energy
        hour_ago = noon - timedelta(hours=1)
        recharge = post_entry(
            session, account.id, LedgerKind.RECHARGE, 5000, reason="cash", at=hour_ago
        )
        post_entry(session, account.id, LedgerKind.REFUND, -700, reason="refund", at=hour_ago)
        post_entry(
            session,
            account.id,
            LedgerKind.REVERSAL,
            -5000,
            reason="wrong account",
            reverses_id=recharge.entry_id,
            at=hour_ago,
        )
        post_entry(session, account.id, LedgerKind.RECHARGE, 2000, reason="cash", at=hour_ago)
        post_entry(
            session,
            account.id,
            LedgerKind.RECHARGE,
            9900,
            reason="yesterday",
            at=noon - timedelta(days=1),
        )
        post_entry(session, account.id, LedgerKind.CONSUMPTION, -321, reason="usage", at=hour_ago)
        post_entry(session, account.id, LedgerKind.FEE, -100, reason="fee", at=hour_ago)
    overview = site_overview(site, noon)
    after = overview.headline
    # (11,500 - 10,000) Wh x 2 + (400 - 100) Wh
    assert after.energy_today_kwh == Decimal("3.300")
    assert after.taken_today_minor == before.taken_today_minor + 5000 - 700 - 5000 + 2000
    assert after.usage_today_minor == before.usage_today_minor + 421
    assert overview.day == noon.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
