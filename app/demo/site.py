"""Seed a demo site that looks and behaves like a real dormitory office.

Default: 2 buildings x 6 floors x 20 rooms (240 rooms), an electricity meter in every room and a
water meter in every second room, spread over several buses on ``sim://`` lines; one account per
room with a mix of healthy, low and negative balances; three tariffs from ``resources/tariffs``
stored as dated versions; one operator per role with the password ``demo``; optionally hourly
readings of the past days (``history_days``; the console's demo and ``demo seed`` keep a week).
Larger specs (``--buildings``, ``--floors``, ``--rooms-per-floor``) build sites for benchmarks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, insert, select
from sqlalchemy.orm import Session

from app.billing.credit_region import credit_region
from app.billing.tariff_header import read_tariff_header
from app.demo.history import seed_demo_history
from app.demo.names import holder_name
from app.resources import resource_path
from app.services.ledger_days import EntryFact, add_to_days
from app.services.passwords import hash_password
from app.services.policy_setup import thresholds_of
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    BalancePolicy,
    Building,
    Bus,
    LedgerEntry,
    LoadGuardSetting,
    Meter,
    Operator,
    Room,
    Site,
    TariffPlan,
    TariffVersion,
)
from app.vocabulary import AccountStatus, ExitCode, LedgerKind, MeterStatus, Role, Utility

TARIFF_FILES = {
    "single": "dorm-electricity.toml",
    "tou": "tou-electricity.toml",
    "water": "tiered-water.toml",
}
DEMO_PASSWORD = "demo"
# Site-wide load guard of the demo: heaters (700-3000 W steps at PF >= 0.95) trip; small loads
# and the water dispenser's step (300-700 W) are white-listed; 4 kW for 30 s trips any load.
DEMO_LOAD_GUARD: dict[str, object] = {
    "total_mode": "trip",
    "total_limit_w": 4000,
    "total_duration_s": 30,
    "increment_mode": "trip",
    "bands": [[30, 300, False], [300, 700, False], [700, 3000, True]],
    "pf_threshold": 0.95,
    "restore_delay_s": 300,
    "max_auto_restores_per_day": 3,
}
MODBUS_MAX_ADDRESS = 247
MAX_HISTORY_DAYS = 92
METERS_PER_BUS = 40  # a comfortable RS485 segment: poll cycle of a few seconds at 9600 baud


class DemoSiteExists(Exception):
    """The database already holds a site; seeding would mix demo data into it."""

    exit_code = ExitCode.SITE_EXISTS


@dataclass(frozen=True)
class DemoSpec:
    buildings: int = 2
    floors: int = 6
    rooms_per_floor: int = 20
    seed: int = 2026
    history_days: int = 0  # hourly readings of the past days (``demo_history``)

    def check(self) -> None:
        if not 1 <= self.buildings <= 26:
            raise ValueError("buildings must be between 1 and 26 (one letter each)")
        if not 1 <= self.floors <= 99:
            raise ValueError("floors must be between 1 and 99")
        if not 1 <= self.rooms_per_floor <= MODBUS_MAX_ADDRESS:
            raise ValueError(f"rooms per floor must be between 1 and {MODBUS_MAX_ADDRESS}")
        if not 0 <= self.history_days <= MAX_HISTORY_DAYS:
            raise ValueError(f"history days must be between 0 and {MAX_HISTORY_DAYS}")


@dataclass(frozen=True)
class DemoSummary:
    rooms: int
    accounts: int
    meters: int
    buses: int
    operators: int
    readings: int = 0


@dataclass(frozen=True)
class _BusPlan:
    name: str
    url: str
    profile: str
    utility: Utility
    baudrate: int
    parity: str


def _electricity_profile(building: int, bus_index: int) -> tuple[str, int, str]:
    """Building A speaks DL/T 645; the others Modbus, with one bus of relay meters by Hiking."""
    if building % 2 == 0:
        return "dlt645-2007", 9600, "E"
    if bus_index % 3 == 2:
        return "hiking-dds238", 9600, "N"
    return "acrel-ddsy1352", 9600, "N"


def _meter_address(profile: str, building: int, floor: int, room: int, slot: int) -> str:
    if profile == "dlt645-2007":
        return f"26{building + 1:02d}{floor:02d}{room:06d}"[-12:].rjust(12, "0")
    if profile == "cjt188-water":
        return f"2026{building + 1:02d}{floor:02d}{room:06d}"[-14:].rjust(14, "0")
    return str(slot)


def seed_demo_site(db: Database, spec: DemoSpec | None = None) -> DemoSummary:
    """Create the whole demo site in one transaction. Refuses a database that has a site."""
    spec = spec or DemoSpec()
    spec.check()
    rng = random.Random(spec.seed)
    now = datetime.now(UTC)
    with db.transaction() as session:
        if session.scalar(select(func.count()).select_from(Site)):
            raise DemoSiteExists(
                f"{db.display_name} already holds a site; nothing was changed. "
                "Seed the demo into an empty data folder (--data-dir) instead."
            )
        site = Site(
            name="Riverside University Dormitories",
            currency="CNY",
            timezone="Asia/Shanghai",
            address="88 Riverside Road",
        )
        session.add(site)
        operators = _seed_operators(session)
        plans = _seed_tariffs(session)
        student, staff = _seed_policies(session)
        session.add(LoadGuardSetting(building_id=None, params=DEMO_LOAD_GUARD))
        buildings = []
        for b in range(spec.buildings):
            code = chr(ord("A") + b)
            building = Building(site=site, code=code, name=f"Block {code}", floors=spec.floors)
            session.add(building)
            buildings.append(building)
        session.flush()

        room_rows = [
            {
                "building_id": building.id,
                "floor": floor,
                "number": f"{floor}{room:02d}"
                if spec.rooms_per_floor < 100
                else f"{floor}{room:03d}",
                "label": f"{building.code}-{floor}{room:02d}"
                if spec.rooms_per_floor < 100
                else f"{building.code}-{floor}{room:03d}",
                "capacity": 4,
            }
            for building in buildings
            for floor in range(1, spec.floors + 1)
            for room in range(1, spec.rooms_per_floor + 1)
        ]
        session.execute(insert(Room), room_rows)
        rooms = session.execute(
            select(Room.id, Room.building_id, Room.floor, Room.number).order_by(Room.id)
        ).all()
        building_index = {building.id: i for i, building in enumerate(buildings)}

        accounts = _seed_accounts(session, rng, rooms, building_index, student, staff, plans, now)
        meter_count, bus_count = _seed_buses_and_meters(
            session, spec, rooms, building_index, accounts, now
        )
        readings = seed_demo_history(session, ZoneInfo(site.timezone), now, spec.history_days)
        return DemoSummary(
            rooms=len(rooms),
            accounts=len(accounts),
            meters=meter_count,
            buses=bus_count,
            operators=operators,
            readings=readings,
        )


def _seed_operators(session: Session) -> int:
    digest = hash_password(DEMO_PASSWORD)  # one hash: the demo's passwords are all the same
    names = {
        Role.ADMIN: "Site administrator",
        Role.CASHIER: "Counter cashier",
        Role.OFFICE: "Office staff",
        Role.SUPERVISOR: "Duty supervisor",
        Role.TECHNICIAN: "Bus technician",
    }
    for role, display in names.items():
        session.add(
            Operator(username=role.value, display_name=display, role=role, password_hash=digest)
        )
    return len(names)


def _seed_tariffs(session: Session) -> dict[str, TariffPlan]:
    plans: dict[str, TariffPlan] = {}
    for key, file_name in TARIFF_FILES.items():
        path = resource_path("tariffs", file_name)
        text = path.read_text(encoding="utf-8")
        head = read_tariff_header(text, str(path))
        plan = TariffPlan(
            name=head.name, utility=Utility(head.utility), unit=head.unit, currency=head.currency
        )
        plan.versions.append(TariffVersion(effective_from=head.effective_from, source_toml=text))
        session.add(plan)
        plans[key] = plan
    return plans


def _seed_policies(session: Session) -> tuple[BalancePolicy, BalancePolicy]:
    nights = [{"days": [0, 1, 2, 3, 4, 5, 6], "from": "22:00", "to": "07:00"}]
    weekends = [{"days": [5, 6], "from": "00:00", "to": "24:00"}]
    student = BalancePolicy(
        name="Student dormitory",
        alarm_1_minor=2000,
        alarm_2_minor=1000,
        overdraft_limit_minor=0,
        close_permit_minor=500,
        hoard_limit_minor=200_000,
        friendly_hours=nights + weekends,
        friendly_dates=["2026-10-01", "2026-10-02"],
    )
    staff = BalancePolicy(
        name="Staff apartment",
        alarm_1_minor=5000,
        alarm_2_minor=2000,
        overdraft_limit_minor=3000,
        close_permit_minor=0,
        hoard_limit_minor=500_000,
        friendly_hours=nights,
        friendly_dates=[],
    )
    session.add_all([student, staff])
    session.flush()
    return student, staff


def _seed_buses_and_meters(
    session: Session,
    spec: DemoSpec,
    rooms: Sequence[Row[int, int, int, str]],
    building_index: dict[int, int],
    account_of_room: dict[int, int],
    now: datetime,
) -> tuple[int, int]:
    floors_per_bus = max(1, METERS_PER_BUS // spec.rooms_per_floor)
    water_floors_per_bus = max(1, (2 * METERS_PER_BUS) // spec.rooms_per_floor)
    buses: dict[tuple[str, int, int], Bus] = {}
    profile_of_bus: dict[int, str] = {}

    def bus_for(kind: str, b: int, floor: int) -> Bus:
        per = floors_per_bus if kind == "e" else water_floors_per_bus
        index = (floor - 1) // per
        key = (kind, b, index)
        if key not in buses:
            code = chr(ord("A") + b)
            if kind == "e":
                profile, baud, parity = _electricity_profile(b, index)
                name = f"Block {code} electricity {index + 1}"
                url = f"sim://demo-{code.lower()}-e{index + 1}"
            else:
                profile, baud, parity = "cjt188-water", 2400, "E"
                name = f"Block {code} water {index + 1}"
                url = f"sim://demo-{code.lower()}-w{index + 1}"
            bus = Bus(
                name=name,
                url=url,
                profile=profile,
                baudrate=baud,
                parity=parity,
                bytesize=8,
                stopbits=1,
                timeout_ms=300 if baud >= 9600 else 600,
            )
            session.add(bus)
            session.flush()
            profile_of_bus[bus.id] = profile
            buses[key] = bus
        return buses[key]

    slots: dict[int, int] = {}
    meter_rows = []
    for room_id, building_id, floor, number in rooms:
        b = building_index[building_id]
        code = chr(ord("A") + b)
        room_no = int(number[len(str(floor)) :])
        kinds = ["e"] + (["w"] if room_no % 2 == 0 else [])
        for kind in kinds:
            bus = bus_for(kind, b, floor)
            slots[bus.id] = slots.get(bus.id, 0) + 1
            profile = profile_of_bus[bus.id]
            utility = Utility.ELECTRICITY if kind == "e" else Utility.WATER
            meter_rows.append(
                {
                    "serial": f"{kind.upper()}{code}{floor:02d}{room_no:03d}",
                    "utility": utility,
                    "profile": profile,
                    "bus_id": bus.id,
                    "address": _meter_address(profile, b, floor, room_no, slots[bus.id]),
                    "room_id": room_id,
                    "account_id": account_of_room.get(room_id),
                    "multiplier": 1,
                    "rated_current_a": 40 if kind == "e" else None,
                    "status": MeterStatus.ACTIVE,
                    "installed_at": now - timedelta(days=400),
                }
            )
    session.execute(insert(Meter), meter_rows)
    return len(meter_rows), len(buses)


def _seed_accounts(
    session: Session,
    rng: random.Random,
    rooms: Sequence[Row[int, int, int, str]],
    building_index: dict[int, int],
    student: BalancePolicy,
    staff: BalancePolicy,
    plans: dict[str, TariffPlan],
    now: datetime,
) -> dict[int, int]:
    """One open account per room; returns room id -> account id."""
    account_rows = []
    histories: list[list[int]] = []
    for n, (room_id, building_id, _floor, _number) in enumerate(rooms, start=1):
        b = building_index[building_id]
        policy = student if b % 2 == 0 else staff
        limits = thresholds_of(policy)
        balance = _demo_balance(rng, policy)
        usage = [rng.randint(300, 2500) for _ in range(rng.randint(1, 4))]
        histories.append([balance + sum(usage), *(-u for u in usage)])
        account_rows.append(
            {
                "number": f"{100000 + n}",
                "holder_name": holder_name(rng),
                "holder_ref": f"2026{rng.randint(10000, 99999)}",
                "phone": f"13{rng.randint(100000000, 999999999)}",
                "room_id": room_id,
                "status": AccountStatus.OPEN,
                "policy_id": policy.id,
                "balance_minor": balance,
                "supply_state": credit_region(balance, limits),
                "opened_at": now - timedelta(days=rng.randint(60, 400)),
                "version": 1,
            }
        )
    session.execute(insert(Account), account_rows)
    ids = session.scalars(select(Account.id).order_by(Account.id)).all()
    entries = []
    facts: list[EntryFact] = []  # the same entries for their days' rollup
    tariff_rows = []
    for account_id, history, row in zip(ids, histories, account_rows, strict=True):
        balance = 0
        start = now - timedelta(days=30)
        for i, amount in enumerate(history):
            balance += amount
            opening = i == 0
            kind = LedgerKind.OPENING if opening else LedgerKind.CONSUMPTION
            made = start + timedelta(days=7 * i, hours=rng.randint(0, 12))
            facts.append((account_id, kind, made, amount))
            entries.append(
                {
                    "account_id": account_id,
                    "kind": kind,
                    "amount_minor": amount,
                    "balance_after_minor": balance,
                    "created_at": made,
                    "reason": "Balance carried over from the previous system"
                    if opening
                    else "Usage posted by the billing engine (demo history)",
                    "reference": f"DEMO-{row['number']}-{i}",
                }
            )
        staff_account = row["policy_id"] == staff.id
        tariff_rows.append(
            {
                "account_id": account_id,
                "utility": Utility.ELECTRICITY,
                "plan_id": plans["tou" if staff_account else "single"].id,
            }
        )
        tariff_rows.append(
            {"account_id": account_id, "utility": Utility.WATER, "plan_id": plans["water"].id}
        )
    session.execute(insert(LedgerEntry), entries)
    add_to_days(session, facts)
    session.execute(insert(AccountTariff), tariff_rows)
    room_ids = [room_id for room_id, *_ in rooms]
    return dict(zip(room_ids, ids, strict=True))


def _demo_balance(rng: random.Random, policy: BalancePolicy) -> int:
    """A plausible balance in minor units: mostly healthy, some low, some in arrears."""
    draw = rng.random()
    if draw < 0.62:
        return rng.randint(4000, 48000)
    if draw < 0.76:
        return rng.randint(policy.alarm_2_minor + 1, policy.alarm_1_minor)
    if draw < 0.86:
        return rng.randint(50, policy.alarm_2_minor)
    if draw < 0.97:
        return -rng.randint(50, 2500)
    return 0
