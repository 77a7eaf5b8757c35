"""Write a checked import plan in the caller's transaction, in bulk.

Order: buildings, rooms, buses, meters (with their initial readings), accounts (with their
tariffs, their rooms' meters, and opening balances with numbered receipts), then the changes to
what was there. New rows go in with one multi-row INSERT per table and their ids come back with
RETURNING, so 20,000 rooms, meters and tenants take seconds, not minutes. Money moves the one
way it does everywhere: accounts open at 0 and each opening balance is an OPENING entry posted
by ``ledger.post_entries`` (in bulk), its receipt numbered by ``counters.take_numbers`` and
worded by ``receipts``. Lock order as in every money service: the receipt counter first, then
the field counter, then the audit counter (``site_import`` takes them in that order).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.billing.credit_region import credit_region
from app.services.counters import RECEIPT, take_numbers
from app.services.import_index import AccountRef, MeterRef, RoomRef, SiteIndex
from app.services.import_plan import ImportPlan, NewAccount, NewMeter
from app.services.ledger import NewEntry, post_entries
from app.services.operators import SignedIn
from app.services.policy_setup import thresholds_of
from app.services.receipts import RECEIPTS_FOLDER, account_words, receipt_file_name, site_words
from app.store.models import (
    Account,
    AccountTariff,
    BalancePolicy,
    Building,
    Bus,
    IntervalReading,
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
    Utility,
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
    session: Session, by: SignedIn, site: Site, index: SiteIndex, plan: ImportPlan, now: datetime
) -> list[dict[str, object]]:
    """Write ``plan`` into ``site``; returns the opening balances paid in (account, amount,
    receipt)."""
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
    openings = _accounts(session, by, plan, site, index, now)
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


def _meters(session: Session, meters: Sequence[NewMeter], index: SiteIndex, now: datetime) -> None:
    def account_id(new: NewMeter) -> int | None:
        account = index.account_of(new.ref.room) if new.ref.room else None
        return account.id if account is not None else None  # new accounts: set later

    ids = _ids(
        session,
        Meter,
        [
            {
                "serial": m.ref.serial,
                "utility": m.ref.utility,
                "profile": m.ref.profile,
                "bus_id": m.ref.bus.id,
                "address": m.ref.address,
                "room_id": m.ref.room.id if m.ref.room else None,
                "account_id": account_id(m),
                "multiplier": m.ref.multiplier,
                "rated_current_a": m.rated_current_a,
                "status": MeterStatus.ACTIVE,
                "installed_at": now,
            }
            for m in meters
        ],
    )
    for meter, meter_id in zip(meters, ids, strict=True):
        meter.ref.id = meter_id
    if ids:
        session.execute(
            insert(IntervalReading),
            [
                {
                    "meter_id": m.ref.id,
                    "read_at": now,
                    "register_units": m.initial_units,
                    "quality": ReadingQuality.GOOD,
                }
                for m in meters
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
    index: SiteIndex,
    now: datetime,
) -> list[dict[str, object]]:
    new = plan.new_accounts
    if not new:
        return []
    limits = {p.id: thresholds_of(p) for p in session.scalars(select(BalancePolicy))}
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
                "balance_minor": 0,  # the opening balance is posted to the ledger below
                # the region of the balance it has once that is done (one transaction)
                "supply_state": credit_region(a.opening_minor, limits[a.ref.policy_id]),
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
    return _openings(session, by, paid, site, index, now)


def _openings(
    session: Session,
    by: SignedIn,
    paid: list[NewAccount],
    site: Site,
    index: SiteIndex,
    now: datetime,
) -> list[dict[str, object]]:
    """Opening balances: an OPENING ledger entry and a numbered receipt each."""
    if not paid:
        return []
    account_ids = [_stored_id(a.ref) for a in paid]
    numbers = take_numbers(session, RECEIPT, len(paid))
    posted = post_entries(
        session,
        [
            NewEntry(
                account_id,
                LedgerKind.OPENING,
                a.opening_minor,
                OPENING_REASON,
                reference=f"receipt {number}",
                operator_id=by.operator_id,
            )
            for a, account_id, number in zip(paid, account_ids, numbers, strict=True)
        ],
        at=now,
    )
    meters_of: dict[int, list[tuple[Utility, str]]] = {}
    for utility, serial, account_id in session.execute(
        select(Meter.utility, Meter.serial, Meter.account_id).where(
            Meter.account_id.in_(account_ids), Meter.removed_at.is_(None)
        )
    ):
        meters_of.setdefault(account_id or 0, []).append((utility, serial))  # never None here
    plan_names = {plan_id: name for plan_id, name, _utility in index.plans.values()}
    words = site_words(site)  # the same on every receipt
    session.execute(
        insert(Receipt),
        [
            {
                "number": number,
                "kind": ReceiptKind.OPENING,
                "account_id": account_id,
                "ledger_entry_id": entry.entry_id,
                "issued_at": now,
                "operator_id": by.operator_id,
                "shift_id": None,
                "method": None,
                "amount_minor": a.opening_minor,
                "balance_before_minor": entry.balance_before_minor,
                "balance_after_minor": entry.balance_after_minor,
                "pdf_path": f"{RECEIPTS_FOLDER}/{receipt_file_name(number)}",
                "print_count": 0,
                "content": words
                | account_words(
                    a.ref.room.label,
                    a.ref.holder,
                    a.ref.number,
                    meters_of.get(account_id, []),
                    [(utility, plan_names[p]) for utility, p in a.ref.tariffs.items()],
                )
                | {"operator": by.display_name, "reason": OPENING_REASON, "approved_by": ""},
            }
            for a, account_id, number, entry in zip(paid, account_ids, numbers, posted, strict=True)
        ],
    )
    return [
        {"account": a.ref.number, "amount_minor": a.opening_minor, "receipt": number}
        for a, number in zip(paid, numbers, strict=True)
    ]


def _stored_id(ref: AccountRef) -> int:
    assert ref.id is not None  # written by ``_accounts`` before
    return ref.id


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
