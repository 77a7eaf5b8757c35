"""Write a checked import plan in the caller's transaction, in bulk.

Order: buildings, rooms, buses, meters (with their initial readings), accounts (with their
tariffs, their rooms' meters, and opening balances as ledger entries with numbered receipts),
then the changes to what was there. New rows go in with one multi-row INSERT per table and their
ids come back with RETURNING, so 20,000 rooms, meters and tenants take seconds, not minutes.
Lock order as in every money service: the receipt counter first, then the field counter, then
the audit counter (``site_import`` takes them in that order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from app.billing.credit_region import CreditThresholds, credit_region
from app.services.counters import RECEIPT, lock_counter
from app.services.import_index import AccountRef, MeterRef, RoomRef, SiteIndex
from app.services.import_plan import ImportPlan, NewAccount
from app.services.operators import SignedIn
from app.services.receipts import RECEIPTS_FOLDER, receipt_file_name
from app.store.models import (
    Account,
    AccountTariff,
    BalancePolicy,
    Building,
    Bus,
    IntervalReading,
    LedgerEntry,
    Meter,
    Receipt,
    Room,
    Site,
)
from app.vocabulary import (
    AccountStatus,
    LedgerKind,
    MeterStatus,
    ReadingQuality,
    ReceiptKind,
    SupplyState,
)

OPENING_REASON = "opening balance carried over (site import)"


def _ids(session: Session, model: type, rows: list[dict[str, object]]) -> list[int]:
    """Insert ``rows`` in one statement; their ids in the order given."""
    if not rows:
        return []
    result = session.execute(
        insert(model).returning(model.id, sort_by_parameter_order=True),  # type: ignore[attr-defined]
        rows,
    )
    return [row[0] for row in result]


def apply_plan(
    session: Session, by: SignedIn, index: SiteIndex, plan: ImportPlan, now: datetime
) -> list[dict[str, object]]:
    """Write ``plan``; returns the opening balances paid in (account, amount, receipt)."""
    site = session.query(Site).order_by(Site.id).first()
    assert site is not None  # the import refuses a database without a site
    for building in plan.new_buildings:
        row = Building(site_id=site.id, name=building.name, code=building.code, floors=0)
        session.add(row)
        session.flush()
        building.id = row.id
    _rooms(session, plan.new_rooms)
    _changed_rooms(session, plan.changed_rooms)
    _buildings_floors(session, plan)
    _buses(session, plan)
    _meters(session, plan.new_meters, index, now)
    _changed_meters(session, plan.changed_meters, index)
    plan_names = {plan_id: name for plan_id, name, _utility in index.plans.values()}
    openings = _accounts(session, by, plan, site, now, plan_names)
    _changed_accounts(session, plan.changed_accounts)
    session.flush()
    return openings


def _rooms(session: Session, rooms: Sequence[RoomRef]) -> None:
    ids = _ids(
        session,
        Room,
        [
            {
                "building_id": r.building.id,
                "floor": r.floor,
                "number": r.number,
                "label": r.label,
                "note": r.note,
                "capacity": 4,
            }
            for r in rooms
        ],
    )
    for room, room_id in zip(rooms, ids, strict=True):
        room.id = room_id


def _changed_rooms(session: Session, rooms: Sequence[RoomRef]) -> None:
    if rooms:
        table = cast(Table, Room.__table__)  # Core: an ORM UPDATE with many rows wants the key
        session.execute(
            update(table)
            .where(table.c.id == bindparam("rid"))
            .values(floor=bindparam("f"), note=bindparam("n")),
            [{"rid": r.id, "f": r.floor, "n": r.note} for r in rooms],
        )


def _buildings_floors(session: Session, plan: ImportPlan) -> None:
    top: dict[int, int] = {}
    for room in [*plan.new_rooms, *plan.changed_rooms]:
        assert room.building.id is not None
        top[room.building.id] = max(top.get(room.building.id, 0), room.floor)
    for building_id, floor in top.items():
        building = session.get_one(Building, building_id)
        building.floors = max(building.floors, floor)


def _buses(session: Session, plan: ImportPlan) -> None:
    for bus in plan.new_buses:
        row = Bus(
            name=bus.name,
            url=bus.port,
            baudrate=bus.baud,
            bytesize=bus.bytesize,
            parity=bus.parity,
            stopbits=bus.stopbits,
            timeout_ms=bus.timeout_ms,
            retries=bus.retries,
            profile=bus.profile,
            enabled=bus.enabled,
        )
        session.add(row)
        session.flush()
        bus.id = row.id
    for bus in plan.changed_buses:
        row = session.get_one(Bus, bus.id)
        row.url, row.baudrate, row.parity = bus.port, bus.baud, bus.parity
        row.stopbits, row.profile, row.enabled = bus.stopbits, bus.profile, bus.enabled


def _meters(
    session: Session, meters: Sequence[tuple[MeterRef, int]], index: SiteIndex, now: datetime
) -> None:
    def account_id(meter: MeterRef) -> int | None:
        account = index.account_of(meter.room) if meter.room else None
        return account.id if account is not None else None  # new accounts: set later

    ids = _ids(
        session,
        Meter,
        [
            {
                "serial": m.serial,
                "utility": m.utility,
                "profile": m.profile,
                "bus_id": m.bus.id,
                "address": m.address,
                "room_id": m.room.id if m.room else None,
                "account_id": account_id(m),
                "multiplier": m.multiplier,
                "status": MeterStatus.ACTIVE,
                "installed_at": now,
            }
            for m, _units in meters
        ],
    )
    for (meter, _units), meter_id in zip(meters, ids, strict=True):
        meter.id = meter_id
    if ids:
        session.execute(
            insert(IntervalReading),
            [
                {
                    "meter_id": m.id,
                    "read_at": now,
                    "register_units": units,
                    "quality": ReadingQuality.GOOD,
                }
                for m, units in meters
            ],
        )


def _changed_meters(session: Session, meters: Sequence[MeterRef], index: SiteIndex) -> None:
    for meter in meters:
        row = session.get_one(Meter, meter.id)
        row.bus_id = meter.bus.id  # type: ignore[assignment]
        row.address, row.profile, row.multiplier = meter.address, meter.profile, meter.multiplier
        row.room_id = meter.room.id if meter.room else None
        account = index.account_of(meter.room) if meter.room else None
        row.account_id = account.id if account is not None else None


def _accounts(
    session: Session,
    by: SignedIn,
    plan: ImportPlan,
    site: Site,
    now: datetime,
    plan_names: dict[int, str],
) -> list[dict[str, object]]:
    new = plan.new_accounts
    if not new:
        return []
    limits = {
        p.id: CreditThresholds(
            p.alarm_1_minor, p.alarm_2_minor, p.overdraft_limit_minor, p.close_permit_minor
        )
        for p in session.query(BalancePolicy)
    }
    ids = _ids(
        session,
        Account,
        [
            {
                "number": a.ref.number,
                "holder_name": a.ref.holder,
                "holder_ref": a.ref.holder_ref,
                "phone": a.ref.phone,
                "room_id": a.ref.room.id,
                "status": AccountStatus.OPEN,
                "policy_id": a.ref.policy_id,
                "balance_minor": a.opening_minor,
                "supply_state": credit_region(a.opening_minor, limits[a.ref.policy_id])
                if a.ref.policy_id in limits
                else SupplyState.NORMAL,
                "opened_at": now,
                "version": 1,
            }
            for a in new
        ],
    )
    for account, account_id in zip(new, ids, strict=True):
        account.ref.id = account_id
    tariffs = [
        {"account_id": a.ref.id, "utility": utility, "plan_id": plan_id}
        for a in new
        for utility, plan_id in a.ref.tariffs.items()
    ]
    if tariffs:  # an empty list would run one INSERT of defaults (tenants of unmetered rooms)
        session.execute(insert(AccountTariff), tariffs)
    meters = cast(Table, Meter.__table__)  # Core: one UPDATE run for every room (executemany)
    session.execute(
        update(meters)
        .where(meters.c.room_id == bindparam("rid"), meters.c.removed_at.is_(None))
        .values(account_id=bindparam("aid")),
        [{"rid": a.ref.room.id, "aid": a.ref.id} for a in new],
    )
    paid = [a for a in new if a.opening_minor > 0]
    return _openings(session, by, paid, site, now, plan_names)


def _openings(
    session: Session,
    by: SignedIn,
    paid: list[NewAccount],
    site: Site,
    now: datetime,
    plan_names: dict[int, str],
) -> list[dict[str, object]]:
    """Opening balances: an OPENING ledger entry and a numbered receipt each."""
    if not paid:
        return []
    counter = lock_counter(session, RECEIPT)
    first = counter.value + 1
    counter.value += len(paid)
    numbers = list(range(first, first + len(paid)))
    entry_ids = _ids(
        session,
        LedgerEntry,
        [
            {
                "account_id": a.ref.id,
                "kind": LedgerKind.OPENING,
                "amount_minor": a.opening_minor,
                "balance_after_minor": a.opening_minor,
                "created_at": now,
                "operator_id": by.operator_id,
                "reason": OPENING_REASON,
                "reference": f"receipt {number}",
            }
            for a, number in zip(paid, numbers, strict=True)
        ],
    )
    meters_of: dict[int, list[str]] = {}
    for utility, serial, account_id in session.query(
        Meter.utility, Meter.serial, Meter.account_id
    ).filter(Meter.account_id.in_([a.ref.id for a in paid]), Meter.removed_at.is_(None)):
        meters_of.setdefault(account_id or 0, []).append(f"{utility.value} {serial}")
    header = site.receipt_header.splitlines()
    session.execute(
        insert(Receipt),
        [
            {
                "number": number,
                "kind": ReceiptKind.OPENING,
                "account_id": a.ref.id,
                "ledger_entry_id": entry_id,
                "issued_at": now,
                "operator_id": by.operator_id,
                "shift_id": None,
                "method": None,
                "amount_minor": a.opening_minor,
                "balance_before_minor": 0,
                "balance_after_minor": a.opening_minor,
                "pdf_path": f"{RECEIPTS_FOLDER}/{receipt_file_name(number)}",
                "print_count": 0,
                "content": _content(
                    site,
                    header,
                    a.ref,
                    sorted(meters_of.get(a.ref.id or 0, [])),
                    by.display_name,
                    [plan_names[p] for _u, p in sorted(a.ref.tariffs.items())],
                ),
            }
            for a, number, entry_id in zip(paid, numbers, entry_ids, strict=True)
        ],
    )
    return [
        {"account": a.ref.number, "amount_minor": a.opening_minor, "receipt": number}
        for a, number in zip(paid, numbers, strict=True)
    ]


def _content(
    site: Site,
    header: list[str],
    account: AccountRef,
    meters: list[str],
    operator: str,
    tariffs: list[str],
) -> dict[str, object]:
    """What the receipt says, as ``receipts.account_content`` words it."""
    return {
        "site_name": site.name,
        "site_address": site.address,
        "receipt_header": header,
        "timezone": site.timezone,
        "currency": site.currency,
        "room": account.room.label,
        "holder": account.holder,
        "account": account.number,
        "meters": meters,
        "tariffs": tariffs,
        "operator": operator,
        "reason": OPENING_REASON,
        "approved_by": "",
    }


def _changed_accounts(session: Session, accounts: Sequence[AccountRef]) -> None:
    for ref in accounts:
        account = session.get_one(Account, ref.id)
        account.holder_ref, account.phone, account.policy_id = (
            ref.holder_ref,
            ref.phone,
            ref.policy_id,
        )
        have = {t.utility: t for t in account.tariffs}
        for utility, plan_id in ref.tariffs.items():
            if utility in have:
                have[utility].plan_id = plan_id
            else:
                account.tariffs.append(AccountTariff(utility=utility, plan_id=plan_id))
