"""The demo site: a plausible dormitory office, consistent in every number, on both backends."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.billing.credit_region import CreditThresholds, credit_region
from app.billing.tariff_header import read_tariff_header
from app.demo.site import (
    MODBUS_MAX_ADDRESS,
    DemoSiteExists,
    DemoSpec,
    DemoSummary,
    seed_demo_site,
)
from app.services.passwords import verify_password
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade
from app.store.models import (
    Account,
    AccountTariff,
    BalancePolicy,
    Base,
    Building,
    Bus,
    LedgerEntry,
    Meter,
    Operator,
    Room,
    Site,
    TariffPlan,
    TariffVersion,
)
from app.vocabulary import LedgerKind, Role, SupplyState, Utility

MODBUS_PROFILES = {"acrel-ddsy1352", "hiking-dds238"}


@pytest.fixture
def seeded(db: Database) -> tuple[Database, DemoSummary]:
    return db, seed_demo_site(db)


def _count(db: Database, model: type[Base]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _row_counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in Base.metadata.tables.items()
        }


def test_the_default_site_has_its_rooms_accounts_and_meters(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, summary = seeded
    assert summary == DemoSummary(
        rooms=240, accounts=240, meters=360, buses=summary.buses, operators=5
    )
    assert _count(db, Site) == 1
    assert _count(db, Building) == 2
    assert _count(db, Room) == 240
    assert _count(db, Account) == 240
    with db.session() as session:
        by_utility = Counter(session.scalars(select(Meter.utility)).all())
        assert by_utility == {Utility.ELECTRICITY: 240, Utility.WATER: 120}
        # every room has its account and its electricity meter, in the same room
        all_rooms = set(session.scalars(select(Room.id)).all())
        assert set(session.scalars(select(Account.room_id)).all()) == all_rooms
        electricity = select(Meter.room_id).where(Meter.utility == Utility.ELECTRICITY)
        assert set(session.scalars(electricity).all()) == all_rooms
        pairs = session.execute(
            select(Meter.room_id, Meter.account_id, Account.room_id).join(
                Account, Meter.account_id == Account.id
            )
        ).all()
        assert len(pairs) == 360
        assert all(meter_room == account_room for meter_room, _, account_room in pairs)
        assert len(set(session.scalars(select(Meter.serial)).all())) == 360


def test_meters_hang_on_several_simulated_buses_without_address_clashes(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, summary = seeded
    with db.session() as session:
        buses = session.execute(select(Bus.id, Bus.url)).all()
        meters = session.execute(select(Meter.bus_id, Meter.address, Meter.profile)).all()
    assert len(buses) == summary.buses >= 4
    urls = [url for _, url in buses]
    assert all(url.startswith("sim://") for url in urls)
    assert len(set(urls)) == len(urls)
    places = [(bus_id, address) for bus_id, address, _ in meters]
    assert len(set(places)) == len(places)
    assert {bus_id for bus_id, _ in places} == {bus_id for bus_id, _ in buses}  # none empty
    profiles_per_bus: dict[int, set[str]] = defaultdict(set)
    for bus_id, _, profile in meters:
        profiles_per_bus[bus_id].add(profile)
    assert all(len(p) == 1 for p in profiles_per_bus.values())  # one protocol per line


def test_every_balance_is_the_sum_of_its_ledger(seeded: tuple[Database, DemoSummary]) -> None:
    db, _ = seeded
    with db.session() as session:
        balances = dict(session.execute(select(Account.id, Account.balance_minor)).all())
        entries: dict[int, list[LedgerEntry]] = defaultdict(list)
        for entry in session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)):
            entries[entry.account_id].append(entry)
    assert set(entries) == set(balances)
    for account_id, balance in balances.items():
        history = entries[account_id]
        assert sum(e.amount_minor for e in history) == balance
        assert history[-1].balance_after_minor == balance
        running = 0
        for entry in history:
            running += entry.amount_minor
            assert entry.balance_after_minor == running
        assert history[0].kind is LedgerKind.OPENING
        assert all(e.kind is LedgerKind.CONSUMPTION and e.amount_minor < 0 for e in history[1:])
        assert [e.created_at for e in history] == sorted(e.created_at for e in history)


def test_balances_are_a_realistic_mix_and_supply_states_agree(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, _ = seeded
    with db.session() as session:
        rows = session.execute(
            select(
                Account.balance_minor,
                Account.supply_state,
                BalancePolicy.alarm_1_minor,
                BalancePolicy.alarm_2_minor,
                BalancePolicy.overdraft_limit_minor,
                BalancePolicy.close_permit_minor,
            ).join(BalancePolicy, Account.policy_id == BalancePolicy.id)
        ).all()
    states = Counter()
    for balance, state, *limits in rows:
        assert state is credit_region(balance, CreditThresholds(*limits))
        states[state] += 1
    assert states[SupplyState.NORMAL] > len(rows) // 2  # mostly healthy
    assert states[SupplyState.ALARM_1] + states[SupplyState.ALARM_2] > 0  # some low
    assert any(balance < 0 for balance, *_ in rows)  # some in arrears
    assert states[SupplyState.CUT_OFF] > 0
    assert states[SupplyState.OVERDRAFT] > 0


def test_three_tariff_plans_each_with_a_readable_version(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, _ = seeded
    with db.session() as session:
        plans = session.scalars(select(TariffPlan).order_by(TariffPlan.name)).all()
        assert len(plans) == 3
        for plan in plans:
            assert len(plan.versions) == 1
            version = plan.versions[0]
            head = read_tariff_header(version.source_toml, plan.name)
            assert (head.name, head.utility, head.unit, head.currency) == (
                plan.name,
                plan.utility.value,
                plan.unit,
                plan.currency,
            )
            assert head.effective_from == version.effective_from
        assert {p.utility for p in plans} == {Utility.ELECTRICITY, Utility.WATER}
        # each account is billed for both utilities, by a plan of the right utility
        tariffs = session.execute(
            select(AccountTariff.utility, TariffPlan.utility).join(
                TariffPlan, AccountTariff.plan_id == TariffPlan.id
            )
        ).all()
        assert len(tariffs) == 2 * 240
        assert all(wanted == plan_utility for wanted, plan_utility in tariffs)
        assert session.scalar(select(func.count()).select_from(TariffVersion)) == 3


def test_one_operator_per_role_with_the_demo_password(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, _ = seeded
    with db.session() as session:
        operators = session.scalars(select(Operator)).all()
    assert sorted(o.role for o in operators) == sorted(Role)
    assert {o.username for o in operators} == {r.value for r in Role}
    for operator in operators:
        assert operator.active
        assert verify_password(operator.password_hash, "demo")
        assert not verify_password(operator.password_hash, "Demo")


def test_seeding_twice_is_refused_and_changes_nothing(
    seeded: tuple[Database, DemoSummary],
) -> None:
    db, _ = seeded
    before = _row_counts(db)
    with pytest.raises(DemoSiteExists, match="already holds a site") as info:
        seed_demo_site(db)
    assert info.value.exit_code == 9
    assert _row_counts(db) == before


def test_seeding_is_repeatable_for_one_seed(tmp_path: Path) -> None:
    def holders(folder: Path) -> list[tuple[str, str, int]]:
        folder.mkdir()
        db = Database(sqlite_url_for(folder))
        try:
            upgrade(db)
            seed_demo_site(db, DemoSpec(buildings=1, floors=2, rooms_per_floor=5, seed=7))
            with db.session() as session:
                rows = session.execute(
                    select(Account.number, Account.holder_name, Account.balance_minor)
                ).all()
                return [tuple(row) for row in rows]
        finally:
            db.dispose()

    assert holders(tmp_path / "one") == holders(tmp_path / "two")


@pytest.mark.parametrize(
    "spec",
    [
        DemoSpec(buildings=0),
        DemoSpec(buildings=27),
        DemoSpec(floors=0),
        DemoSpec(floors=100),
        DemoSpec(rooms_per_floor=0),
        DemoSpec(rooms_per_floor=MODBUS_MAX_ADDRESS + 1),
    ],
)
def test_an_impossible_spec_is_refused_before_anything_is_written(
    tmp_path: Path, spec: DemoSpec
) -> None:
    db = Database(sqlite_url_for(tmp_path))
    try:
        upgrade(db)
        with pytest.raises(ValueError, match="must be between"):
            seed_demo_site(db, spec)
        assert _count(db, Site) == 0
    finally:
        db.dispose()


def test_a_large_site_scales_and_keeps_modbus_addresses_valid(tmp_path: Path) -> None:
    db = Database(sqlite_url_for(tmp_path))
    try:
        upgrade(db)
        summary = seed_demo_site(db, DemoSpec(buildings=2, floors=5, rooms_per_floor=100))
        assert (summary.rooms, summary.accounts, summary.meters) == (1000, 1000, 1500)
        with db.session() as session:
            meters = session.execute(select(Meter.bus_id, Meter.address, Meter.profile)).all()
            labels = session.scalars(select(Room.label)).all()
        assert len(meters) == 1500
        assert len(set(labels)) == 1000
        assert len({(bus, address) for bus, address, _ in meters}) == 1500
        modbus = [
            (bus, int(address)) for bus, address, profile in meters if profile in MODBUS_PROFILES
        ]
        assert modbus  # the second building speaks Modbus
        assert all(1 <= address <= MODBUS_MAX_ADDRESS for _, address in modbus)
        per_bus = Counter(bus for bus, _ in modbus)
        assert max(per_bus.values()) <= MODBUS_MAX_ADDRESS
        others = [a for _, a, profile in meters if profile not in MODBUS_PROFILES]
        assert all(a.isdigit() and len(a) in {12, 14} for a in others)  # DL/T 645, CJ/T 188
    finally:
        db.dispose()


def test_the_widest_floor_fills_a_modbus_line_exactly(tmp_path: Path) -> None:
    db = Database(sqlite_url_for(tmp_path))
    try:
        upgrade(db)
        seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=MODBUS_MAX_ADDRESS))
        with db.session() as session:
            addresses = session.scalars(
                select(Meter.address).where(Meter.profile.in_(MODBUS_PROFILES))
            ).all()
        assert sorted(int(a) for a in addresses) == list(range(1, MODBUS_MAX_ADDRESS + 1))
    finally:
        db.dispose()
