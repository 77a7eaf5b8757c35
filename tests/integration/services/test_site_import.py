"""The site workbook import: the "Block 7" site (3 floors x 10 rooms, one Hiking bus at 9600 8N1,
30 meters at addresses 1-30, 30 tenants with opening balances) goes in once, all or nothing;
the same workbook again, or the site's own export, changes nothing; the ledger verifies with
OPENING entries and gap-free receipts; a bad workbook is refused with every problem named by
sheet, row and column and nothing written; on SQLite and PostgreSQL.

Most tests read one imported site per backend (``site``); a refused import writes nothing, so
the refusals share it too and each proves it by comparing every table before and after."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.billing.credit_region import credit_region
from app.documents.site_workbook import read_workbook, write_workbook
from app.documents.site_workbook_format import Workbook
from app.hardware.profiles import load_profile
from app.queries.site_layout import list_buildings, list_buses, setup_status
from app.queries.site_sheets import site_sheets
from app.services.bus_setup import BusForm, add_bus, retire_bus
from app.services.import_plan import ImportPlan
from app.services.ledger_verify import verify_ledger
from app.services.meter_setup import MeterForm, add_meter, rated_current, retire_meter
from app.services.operators import SignedIn
from app.services.permissions import PermissionDenied
from app.services.policy_setup import thresholds_of
from app.services.receipts import account_content
from app.services.setup_checks import in_transaction
from app.services.site_import import ImportDone, ImportRefused, import_workbook, plan_import
from app.services.site_layout import add_room, retire_room
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    AuditEvent,
    BalancePolicy,
    IntervalReading,
    LedgerEntry,
    Meter,
    Receipt,
    Room,
    TariffPlan,
)
from app.vocabulary import (
    AccountStatus,
    LedgerKind,
    ReadingQuality,
    ReceiptKind,
    Role,
    SupplyState,
    Utility,
)
from tests.integration.services.setup_support import (
    BACKENDS,
    DORM,
    STUDENT,
    module_database,
    revision,
    snapshot,
    staff,
    store_policy,
    store_tariff,
    with_site,
    workbook,
)

BUS = "Block 7 meters"
OLD_LINE = "Old line"  # a retired bus
HIKING = "hiking-dds238"
LABELS = [f"7-{floor}{n:02d}" for floor in (1, 2, 3) for n in range(1, 11)]


def opening(n: int) -> str:
    """Tenant n's opening balance: none for every third, else 10.50, 11.50..."""
    return "" if n % 3 == 0 else f"{10 + n}.50"


ROOMS = [{"building": "Block 7", "floor": label[2], "room": label[2:]} for label in LABELS]
BUSES = [
    {
        "bus": BUS,
        "port": "sim://block7",
        "baud": "9600",
        "parity": "N",
        "stopbits": "1",
        "profile": HIKING,
    }
]
METERS = [
    {
        "serial": f"H7-{n + 1:03d}",
        "utility": "electricity",
        "room": label,
        "bus": BUS,
        "address": str(n + 1),
        "profile": HIKING,
        "initial_reading": f"{n}.25",
    }
    for n, label in enumerate(LABELS)
]
TENANTS = [
    {
        "room": label,
        "holder": f"Student {n + 1}",
        "holder_ref": f"2026{n:04d}",
        "phone": f"1380000{n:04d}",
        "tariffs": DORM,
        "policy": STUDENT,
        "opening_balance": opening(n),
    }
    for n, label in enumerate(LABELS)
]
BLOCK_7 = workbook(rooms=ROOMS, buses=BUSES, meters=METERS, tenants=TENANTS)
PAID = [n for n in range(30) if opening(n)]


@dataclass(frozen=True)
class Block7:
    db: Database
    who: dict[Role, SignedIn]
    done: ImportDone
    revision_before: int
    revision_after: int


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Block7]:
    """Block 7 imported into a site with the dormitory tariff and the student policy; then
    room 7-311 added, given meter OLD-1 on a bus of its own (Old line), and all three
    retired."""
    databases = module_database(request, tmp_path_factory)
    db = next(databases)
    try:
        who = with_site(db)
        store_tariff(db, who[Role.ADMIN])
        store_policy(db, who[Role.ADMIN])
        start = revision(db)
        done = import_workbook(db, who[Role.ADMIN], BLOCK_7, source="block7.xlsx", digest="ab" * 32)
        after = revision(db)
        sup, tech = who[Role.SUPERVISOR], who[Role.TECHNICIAN]
        in_transaction(db, add_room, sup, "Block 7", 3, "311")
        in_transaction(db, add_bus, tech, BusForm(OLD_LINE, "sim://old-line", HIKING))
        in_transaction(db, add_meter, tech, MeterForm("OLD-1", OLD_LINE, "31", room="7-311"))
        in_transaction(db, retire_meter, tech, "OLD-1")
        assert in_transaction(db, retire_bus, tech, OLD_LINE) == "retired"
        assert in_transaction(db, retire_room, sup, "7-311") == "retired"
        yield Block7(db, who, done, start, after)
    finally:
        databases.close()


def refused_import(site: Block7, book: Workbook, by: Role = Role.ADMIN) -> ImportPlan:
    """The import is refused and writes nothing; the dry run finds the same problems."""
    before = snapshot(site.db)
    with pytest.raises(ImportRefused) as refused:
        import_workbook(site.db, site.who[by], book, source="bad.xlsx", digest="cd" * 32)
    assert snapshot(site.db) == before
    preview = plan_import(site.db, book)
    assert preview.problems == refused.value.plan.problems
    assert str(refused.value) == "\n".join(str(p) for p in preview.problems)
    return refused.value.plan


def where(plan: ImportPlan) -> list[tuple[str, int | None, str | None]]:
    return [(p.sheet, p.row, p.column) for p in plan.problems]


# -- the import --------------------------------------------------------------------------------


def test_block_7_goes_in_in_one_import(site: Block7) -> None:
    db, done = site.db, site.done
    assert done.applied
    assert done.plan.counts() == {
        "rooms": {"add": 30, "change": 0, "unchanged": 0},
        "buses": {"add": 1, "change": 0, "unchanged": 0},
        "meters": {"add": 30, "change": 0, "unchanged": 0},
        "tenants": {"add": 30, "change": 0, "unchanged": 0},
    }
    assert done.plan.warnings == []
    (building,) = list_buildings(db)
    assert (building.name, building.code, building.floors, building.rooms) == (
        "Block 7",
        "7",
        3,
        30,
    )
    (bus,) = list_buses(db)
    assert (bus.name, bus.port, bus.line, bus.profile, bus.enabled, bus.meters) == (
        BUS,
        "sim://block7",
        "9600 8N1",
        HIKING,
        True,
        30,
    )
    assert (bus.timeout_ms, bus.retries) == (300, 1)  # the profile's
    assert site.revision_after == site.revision_before + 1  # a running console takes it up
    with db.session() as session:
        rows = session.execute(
            select(Meter.serial, Meter.address, Room.label, Account.number, Meter.utility)
            .join(Room, Room.id == Meter.room_id)
            .join(Account, Account.id == Meter.account_id)
            .where(Meter.removed_at.is_(None))
            .order_by(Meter.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (f"H7-{n + 1:03d}", str(n + 1), label, str(100001 + n), Utility.ELECTRICITY)
        for n, label in enumerate(LABELS)
    ]


def test_each_initial_reading_is_the_meters_first_good_reading(site: Block7) -> None:
    with site.db.session() as session:
        rows = session.execute(
            select(Meter.serial, IntervalReading.register_units, IntervalReading.quality)
            .join(Meter, Meter.id == IntervalReading.meter_id)
            .where(Meter.serial.like("H7-%"))
            .order_by(Meter.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (f"H7-{n + 1:03d}", n * 1000 + 250, ReadingQuality.GOOD) for n in range(30)
    ]


def test_each_meter_has_its_profiles_rated_current_as_one_added_on_its_own(site: Block7) -> None:
    """The engine measures a register's jump against it (no rated current: 100 A)."""
    with site.db.session() as session:
        rated = dict(session.execute(select(Meter.serial, Meter.rated_current_a)).all())
    assert rated.pop("OLD-1") == rated_current(load_profile(HIKING)) == 65  # add_meter's
    assert rated == {f"H7-{n:03d}": 65 for n in range(1, 31)}


def test_each_account_is_in_the_credit_region_of_its_opening_balance(site: Block7) -> None:
    with site.db.session() as session:
        rows = session.execute(
            select(Account.number, Account.balance_minor, Account.supply_state, BalancePolicy)
            .join(BalancePolicy, BalancePolicy.id == Account.policy_id)
            .order_by(Account.number)
        ).all()
        regions = {
            number: (state, credit_region(balance, thresholds_of(policy)))
            for number, balance, state, policy in rows
        }
    assert all(state == expected for state, expected in regions.values())
    assert [regions[str(100001 + n)][0] for n in (0, 1, 10)] == [
        SupplyState.CUT_OFF,  # no opening balance, no overdraft
        SupplyState.ALARM_1,  # 11.50: below the first alarm (20.00)
        SupplyState.NORMAL,  # 20.50
    ]


def test_the_tenants_have_accounts_with_their_tariff_policy_and_opening_balance(
    site: Block7,
) -> None:
    with site.db.session() as session:
        rows = session.execute(
            select(
                Account.number,
                Room.label,
                Account.holder_name,
                Account.holder_ref,
                Account.phone,
                Account.status,
                Account.balance_minor,
                BalancePolicy.name,
                TariffPlan.name,
                AccountTariff.utility,
            )
            .join(Room, Room.id == Account.room_id)
            .join(BalancePolicy, BalancePolicy.id == Account.policy_id)
            .join(AccountTariff, AccountTariff.account_id == Account.id)
            .join(TariffPlan, TariffPlan.id == AccountTariff.plan_id)
            .order_by(Account.number)
        ).all()
    assert [tuple(r) for r in rows] == [
        (
            str(100001 + n),
            label,
            f"Student {n + 1}",
            f"2026{n:04d}",
            f"1380000{n:04d}",
            AccountStatus.OPEN,
            (10 + n) * 100 + 50 if opening(n) else 0,
            STUDENT,
            DORM,
            Utility.ELECTRICITY,
        )
        for n, label in enumerate(LABELS)
    ]


def test_opening_balances_are_opening_entries_with_gap_free_receipts(site: Block7) -> None:
    db = site.db
    report = verify_ledger(db)
    assert report.ok, report.problems
    assert (report.accounts, report.entries, report.receipts) == (30, len(PAID), len(PAID))
    with db.session() as session:
        entries = session.execute(
            select(
                Account.number,
                LedgerEntry.kind,
                LedgerEntry.amount_minor,
                LedgerEntry.balance_after_minor,
                LedgerEntry.operator_id,
                Receipt.number,
                Receipt.kind,
                Receipt.amount_minor,
                Receipt.balance_before_minor,
            )
            .join(Account, Account.id == LedgerEntry.account_id)
            .join(Receipt, Receipt.ledger_entry_id == LedgerEntry.id)
            .order_by(Receipt.number)
        ).all()
        content = session.scalars(select(Receipt.content).order_by(Receipt.number)).first()
    admin = site.who[Role.ADMIN].operator_id
    assert [tuple(e) for e in entries] == [
        (
            str(100001 + n),
            LedgerKind.OPENING,
            (10 + n) * 100 + 50,
            (10 + n) * 100 + 50,
            admin,
            number,
            ReceiptKind.OPENING,
            (10 + n) * 100 + 50,
            0,
        )
        for number, n in enumerate(PAID, start=1)
    ]
    assert site.done.openings == [
        {"account": str(100001 + n), "amount_minor": (10 + n) * 100 + 50, "receipt": number}
        for number, n in enumerate(PAID, start=1)
    ]
    assert content is not None
    assert (content["room"], content["holder"], content["tariffs"]) == (
        "7-102",
        "Student 2",
        [DORM],
    )


def test_one_audit_event_records_the_import(site: Block7) -> None:
    with site.db.session() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "site.import"))
    assert event.operator_id == site.who[Role.ADMIN].operator_id
    assert event.after is not None
    assert (event.after["source"], event.after["sha256"]) == ("block7.xlsx", "ab" * 32)
    assert event.after["counts"] == site.done.plan.counts()
    assert len(event.after["changes"]) == 91
    assert event.after["changes"][0] == ["rooms", 2, "add", "room 7-101", "floor 1"]
    assert event.after["opening_balances"] == site.done.openings


def test_the_checklist_sees_the_imported_site(site: Block7) -> None:
    status = setup_status(site.db)
    assert status.missing == ("load_guard",)
    assert status.step("tenants").count == 30
    assert (status.step("meters").count, status.step("meters").extra) == (30, 30)


def test_importing_the_same_workbook_again_changes_nothing(site: Block7) -> None:
    before = snapshot(site.db)
    again = import_workbook(
        site.db, site.who[Role.ADMIN], BLOCK_7, source="block7.xlsx", digest="ab" * 32
    )
    assert not again.applied
    assert again.plan.changes == []
    assert again.plan.counts() == {
        "rooms": {"add": 0, "change": 0, "unchanged": 30},
        "buses": {"add": 0, "change": 0, "unchanged": 1},
        "meters": {"add": 0, "change": 0, "unchanged": 30},
        "tenants": {"add": 0, "change": 0, "unchanged": 30},
    }
    assert snapshot(site.db) == before  # not even an audit event


def test_the_sites_own_export_imports_as_no_change(site: Block7, tmp_path: Path) -> None:
    sheets = site_sheets(site.db)
    assert sheets["buses"] == [{**BUSES[0], "enabled": "yes"}]
    assert [r["initial_reading"] for r in sheets["meters"]][:3] == ["0.25", "1.25", "2.25"]
    assert [r["opening_balance"] for r in sheets["tenants"]] == [
        t["opening_balance"] for t in TENANTS
    ]
    assert "7-311" not in {r["room"] for r in sheets["tenants"]}  # retired: not exported
    assert "OLD-1" not in {r["serial"] for r in sheets["meters"]}
    folder = tmp_path / "exported"
    write_workbook(folder, sheets)
    book = read_workbook(folder)
    before = snapshot(site.db)
    done = import_workbook(site.db, site.who[Role.ADMIN], book, source="exported", digest="0")
    assert not done.applied
    assert done.plan.changes == []
    assert done.plan.problems == []
    assert snapshot(site.db) == before


def test_nobody_imports_more_than_their_role_allows(site: Block7) -> None:
    room = workbook(rooms=[{"building": "Block 7", "floor": "4", "room": "401"}])
    meter = workbook(meters=[{**METERS[0], "serial": "NEW-1", "address": "40"}])
    tenant = workbook(
        rooms=[{"building": "Block 7", "floor": "4", "room": "401"}],
        tenants=[{**TENANTS[0], "room": "7-401", "holder": "New"}],
    )
    phone = workbook(tenants=[{**TENANTS[0], "phone": "110"}])
    before = snapshot(site.db)
    for book, role, says in (
        (room, Role.TECHNICIAN, "add, rename and retire buildings and rooms; ask a supervisor"),
        (meter, Role.SUPERVISOR, "add, change and retire buses and meters; ask a technician"),
        (tenant, Role.CASHIER, "add, rename and retire buildings and rooms"),
        (phone, Role.OFFICE, "change balance policies; ask a supervisor"),
    ):
        with pytest.raises(PermissionDenied) as denied:
            import_workbook(site.db, site.who[role], book, source="x", digest="0")
        assert says in str(denied.value), role
    assert snapshot(site.db) == before


def test_a_meter_without_a_relay_for_a_tenant_is_a_warning(site: Block7) -> None:
    sdm = "eastron-sdm120"
    book = workbook(
        rooms=[{"building": "Block 7", "floor": "4", "room": "401"}],
        meters=[
            {**METERS[0], "serial": "SDM-1", "address": "41", "profile": sdm},
            {**METERS[0], "serial": "SDM-2", "address": "42", "profile": sdm, "room": "7-401"},
        ],
        tenants=[{**TENANTS[0], "room": "7-401", "holder": "New", "opening_balance": ""}],
    )
    plan = plan_import(site.db, book)
    assert plan.problems == []
    assert plan.warnings == [  # as meter_setup words it, after the sheet and row
        f"meters row 2: Meter SDM-1 ({sdm}) has no relay or valve: the console cannot cut this "
        "room's supply when account 100001 runs out; its balance policy cuts supply at the "
        "overdraft limit.",
        f"tenants row 2: Meter SDM-2 ({sdm}) has no relay or valve: the console cannot cut this "
        "room's supply when account 100031 runs out; its balance policy cuts supply at the "
        "overdraft limit.",
    ]


# -- bad workbooks -----------------------------------------------------------------------------

NEW_ROOM = {"building": "Block 7", "floor": "4", "room": "401"}
NEW_METER = {**METERS[0], "serial": "NEW-1", "room": "7-401", "address": "40"}
NEW_TENANT = {**TENANTS[0], "room": "7-401", "holder": "New Tenant", "opening_balance": "5"}

BAD: dict[str, tuple[Mapping[str, list[dict[str, str]]], tuple[str, int, str], str]] = {
    "a room twice": (
        {"rooms": [NEW_ROOM, {**NEW_ROOM, "note": "again"}]},
        ("rooms", 3, "room"),
        "Room 7-401 is already in this sheet at row 2; keep one row.",
    ),
    "a stored room twice": (
        {"rooms": [ROOMS[0], ROOMS[0]]},
        ("rooms", 3, "room"),
        "Room 7-101 is already in this sheet at row 2; keep one row.",
    ),
    "a retired room": (
        {"rooms": [{"building": "Block 7", "floor": "3", "room": "311"}]},
        ("rooms", 2, "room"),
        "Room 7-311 is retired; it cannot be used again.",
    ),
    "a bad floor": (
        {"rooms": [{**NEW_ROOM, "floor": "four"}]},
        ("rooms", 2, "floor"),
        "The floor 'four' is not a whole number; type one.",
    ),
    "an unknown profile": (
        {"buses": [{**BUSES[0], "bus": "Line 2", "port": "sim://two", "profile": "acme-9000"}]},
        ("buses", 2, "profile"),
        "There is no meter profile 'acme-9000'; choose one of",
    ),
    "a retired bus's name": (  # kept for its meters' history: the name is never used again
        {"buses": [{**BUSES[0], "bus": " old  LINE ", "port": "sim://another"}]},
        ("buses", 2, "bus"),
        f"There is already a bus called {OLD_LINE}.",
    ),
    "a port too long to store": (
        {"buses": [{**BUSES[0], "bus": "Line 2", "port": "sim://" + "x" * 250}]},
        ("buses", 2, "port"),
        "The port is too long.",
    ),
    "a port with two owners": (
        {"buses": [{**BUSES[0], "bus": "Line 2", "port": "SIM://Block7"}]},
        ("buses", 2, "port"),
        f"Bus {BUS} already uses sim://block7: one port, one owner.",
    ),
    "a bad baud rate": (
        {"buses": [{**BUSES[0], "baud": "9601"}]},
        ("buses", 2, "baud"),
        "9601 baud is not an RS485 meter speed",
    ),
    "an unknown bus": (
        {"rooms": [NEW_ROOM], "meters": [{**NEW_METER, "bus": "Block 8 meters"}]},
        ("meters", 2, "bus"),
        "There is no bus 'Block 8 meters'; add it to the buses sheet first.",
    ),
    "an address out of range": (
        {"rooms": [NEW_ROOM], "meters": [{**NEW_METER, "address": "248"}]},
        ("meters", 2, "address"),
        "Modbus address '248' must be a number from 1 to 247.",
    ),
    "an address of a stored meter": (
        {"rooms": [NEW_ROOM], "meters": [{**NEW_METER, "address": "005"}]},
        ("meters", 2, "address"),
        f"Address 5 on bus {BUS} belongs to meter H7-005; two meters on one bus cannot share "
        "an address.",
    ),
    "an address twice in the file": (
        {"rooms": [NEW_ROOM], "meters": [NEW_METER, {**NEW_METER, "serial": "NEW-2"}]},
        ("meters", 3, "address"),
        f"Address 40 on bus {BUS} belongs to meter NEW-1; two meters on one bus cannot share "
        "an address.",
    ),
    "a retired meter's serial": (
        {"rooms": [NEW_ROOM], "meters": [{**NEW_METER, "serial": "old-1"}]},
        ("meters", 2, "serial"),
        "Serial old-1 belongs to a retired meter.",
    ),
    "a meter in a retired room": (
        {"meters": [{**NEW_METER, "room": "7-311"}]},
        ("meters", 2, "room"),
        "Room 7-311 is retired.",
    ),
    "a meter of another utility": (
        {"rooms": [NEW_ROOM], "meters": [{**NEW_METER, "utility": "water"}]},
        ("meters", 2, "utility"),
        f"Profile {HIKING} is for electricity meters, not water.",
    ),
    "a negative opening balance": (
        {"rooms": [NEW_ROOM], "tenants": [{**NEW_TENANT, "opening_balance": "-5"}]},
        ("tenants", 2, "opening_balance"),
        "An opening balance cannot be negative; open at 0 and record what is owed as an "
        "adjustment.",
    ),
    "an opening balance with three decimals": (
        {"rooms": [NEW_ROOM], "tenants": [{**NEW_TENANT, "opening_balance": "5.001"}]},
        ("tenants", 2, "opening_balance"),
        "Opening balance: '5.001' has more than 2 decimal places",
    ),
    "an opening balance that is no number": (
        {"rooms": [NEW_ROOM], "tenants": [{**NEW_TENANT, "opening_balance": "five"}]},
        ("tenants", 2, "opening_balance"),
        "Opening balance: 'five' is not a number",
    ),
    "no tariff for a metered utility": (
        {"rooms": [NEW_ROOM], "meters": [NEW_METER], "tenants": [{**NEW_TENANT, "tariffs": ""}]},
        ("tenants", 2, "tariffs"),
        "Room 7-401 has electricity meters and no tariff for them; name one plan per metered "
        "utility, separated by ;.",
    ),
    "an unknown tariff": (
        {"rooms": [NEW_ROOM], "tenants": [{**NEW_TENANT, "tariffs": "Free power"}]},
        ("tenants", 2, "tariffs"),
        f"There is no tariff plan 'Free power'; plans: {DORM}.",
    ),
    "an unknown policy": (
        {"rooms": [NEW_ROOM], "tenants": [{**NEW_TENANT, "policy": "VIP"}]},
        ("tenants", 2, "policy"),
        f"There is no balance policy 'VIP'; policies: {STUDENT}.",
    ),
    "a tenant in a room someone else holds": (
        {"tenants": [{**TENANTS[4], "holder": "Somebody Else"}]},
        ("tenants", 2, "holder"),
        "Room 7-105 has open account 100005 of Student 5; move or settle it before another "
        "holder takes the room.",
    ),
    "a tenant in a retired room": (
        {"tenants": [{**NEW_TENANT, "room": "7-311"}]},
        ("tenants", 2, "room"),
        "Room 7-311 is retired.",
    ),
    "a tenant in no room there is": (
        {"tenants": [{**NEW_TENANT, "room": "7-999"}]},
        ("tenants", 2, "room"),
        "There is no room '7-999'. Add it to the rooms sheet.",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_workbook_is_refused_naming_sheet_row_and_column(site: Block7, case: str) -> None:
    sheets, place, says = BAD[case]
    plan = refused_import(site, workbook(**sheets))
    assert where(plan) == [place]
    assert plan.problems[0].message.startswith(says)


def test_every_problem_is_named_at_once(site: Block7, tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    write_workbook(
        folder,
        {
            "rooms": [NEW_ROOM, NEW_ROOM, {**NEW_ROOM, "room": "402", "floor": "x"}],
            "buses": [{**BUSES[0], "parity": "Q"}],
            "meters": [NEW_METER, {**NEW_METER, "serial": "NEW-2", "address": "0"}],
            "tenants": [NEW_TENANT, {**TENANTS[0], "holder": "Impostor"}],
        },
    )
    plan = refused_import(site, read_workbook(folder))
    assert where(plan) == [
        ("rooms", 3, "room"),
        ("rooms", 4, "floor"),
        ("buses", 2, "parity"),
        ("meters", 3, "address"),
        ("tenants", 3, "holder"),
    ]
    assert str(plan.problems[0]) == (
        "rooms row 3, column room: Room 7-401 is already in this sheet at row 2; keep one row."
    )


# -- on a database of its own ------------------------------------------------------------------


def test_no_import_before_the_site_is_set_up(db: Database) -> None:
    admin = staff(db)[Role.ADMIN]
    before = snapshot(db)
    with pytest.raises(ImportRefused) as refused:
        import_workbook(db, admin, workbook(rooms=ROOMS[:1]), source="x", digest="0")
    first = refused.value.plan.problems[0]
    assert (first.sheet, first.row, first.column) == ("", None, None)
    assert first.message.startswith("There is no site in this database yet")
    assert snapshot(db) == before


def test_a_dry_run_writes_nothing_and_a_changed_row_changes_what_it_says(db: Database) -> None:
    who = with_site(db)
    store_tariff(db, who[Role.ADMIN])
    store_policy(db, who[Role.ADMIN])
    small = workbook(rooms=ROOMS[:2], buses=BUSES, meters=METERS[:2], tenants=TENANTS[:2])
    before = snapshot(db)
    plan = plan_import(db, small)
    assert [(c.sheet, c.row, c.action, c.what) for c in plan.changes] == [
        ("rooms", 2, "add", "room 7-101"),
        ("rooms", 3, "add", "room 7-102"),
        ("buses", 2, "add", f"bus {BUS}"),
        ("meters", 2, "add", "meter H7-001"),
        ("meters", 3, "add", "meter H7-002"),
        ("tenants", 2, "add", "account of 7-101"),
        ("tenants", 3, "add", "account of 7-102"),
    ]
    assert plan.changes[-1].detail == "Student 2, opening balance 11.50"
    assert snapshot(db) == before
    import_workbook(db, who[Role.ADMIN], small, source="small.csv", digest="1")
    changed = workbook(
        rooms=[{**ROOMS[0], "note": "corner"}, ROOMS[1]],
        buses=[{**BUSES[0], "baud": "19200"}],
        meters=[{**METERS[0], "multiplier": "2", "initial_reading": "99"}, METERS[1]],
        tenants=[{**TENANTS[0], "phone": "110", "opening_balance": "500"}, TENANTS[1]],
    )
    done = import_workbook(db, who[Role.ADMIN], changed, source="changed.csv", digest="2")
    assert [(c.sheet, c.action, c.what, c.detail) for c in done.plan.changes] == [
        ("rooms", "change", "room 7-101", "note '' -> 'corner'"),
        ("buses", "change", f"bus {BUS}", "baud 9600 -> 19200"),
        ("meters", "change", "meter H7-001", "multiplier 1 -> 2"),
        ("tenants", "change", "account 100001 (7-101)", "phone '13800000000' -> '110'"),
    ]
    assert done.openings == []  # an opening balance is only a new account's
    sheets = site_sheets(db)
    assert sheets["rooms"][0]["note"] == "corner"
    assert sheets["buses"][0]["baud"] == "19200"
    assert sheets["meters"][0]["multiplier"] == "2"
    assert sheets["meters"][0]["initial_reading"] == "0.25"  # history is not rewritten
    assert sheets["tenants"][0]["phone"] == "110"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert verify_ledger(db).ok
    before = snapshot(db)
    again = import_workbook(db, who[Role.ADMIN], changed, source="changed.csv", digest="2")
    assert not again.applied
    assert snapshot(db) == before


def test_an_opening_receipt_says_what_a_receipt_of_the_account_says(db: Database) -> None:
    """Worded by ``receipts`` as every receipt is: a tariff of a utility the room has no meter
    of (water here) is not printed; then the operator and why the money came in."""
    who = with_site(db)
    store_tariff(db, who[Role.ADMIN])
    store_tariff(db, who[Role.ADMIN], "tiered-water")
    store_policy(db, who[Role.ADMIN])
    book = workbook(
        rooms=ROOMS[:2],
        buses=BUSES,
        meters=METERS[:2],
        tenants=[{**t, "tariffs": f"Tiered water; {DORM}"} for t in TENANTS[:2]],
    )
    done = import_workbook(db, who[Role.ADMIN], book, source="two.xlsx", digest="3")
    assert [o["account"] for o in done.openings] == ["100002"]  # tenant 1 opened at 0
    with db.session() as session:
        receipt = session.scalars(select(Receipt)).one()
        account = session.scalars(select(Account).where(Account.number == "100002")).one()
        tariffs = {t.plan.name for t in account.tariffs}
        assert receipt.content == account_content(session, account) | {
            "operator": who[Role.ADMIN].display_name,
            "reason": "opening balance carried over (site import)",
            "approved_by": "",
        }
    assert tariffs == {DORM, "Tiered water"}
    assert receipt.content is not None
    assert (receipt.content["meters"], receipt.content["tariffs"]) == (
        ["electricity H7-002"],
        [DORM],
    )
    assert receipt.content["receipt_header"] == []  # the site's header: none set


def test_the_export_gives_each_meters_first_good_reading_as_its_initial_one(db: Database) -> None:
    who = with_site(db)
    store_tariff(db, who[Role.ADMIN])
    store_policy(db, who[Role.ADMIN])
    book = workbook(rooms=ROOMS[:2], buses=BUSES, meters=METERS[:2])
    import_workbook(db, who[Role.ADMIN], book, source="two.xlsx", digest="4")
    with db.transaction() as session:
        meters = dict(session.execute(select(Meter.serial, Meter.id)).all())
        first = session.scalar(
            select(IntervalReading.read_at).where(IntervalReading.meter_id == meters["H7-001"])
        )
        assert first is not None
        for minutes, units, quality in (
            (15, 900, ReadingQuality.HELD),  # held: never an initial reading
            (30, 1_500, ReadingQuality.GOOD),
            (45, 2_750, ReadingQuality.GOOD),
        ):
            session.add(
                IntervalReading(
                    meter_id=meters["H7-001"],
                    read_at=first + timedelta(minutes=minutes),
                    register_units=units,
                    quality=quality,
                )
            )
    sheets = site_sheets(db)
    assert [(m["serial"], m["initial_reading"]) for m in sheets["meters"]] == [
        ("H7-001", "0.25"),
        ("H7-002", "1.25"),
    ]
