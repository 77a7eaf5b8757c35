"""The site as the rows of its workbook (``main.py site export``): rooms, buses, meters in
service and open accounts' tenants, in the columns the import reads, so that exporting and
importing again changes nothing."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from app.billing.money import Money
from app.queries.site_facts import site_currency
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    BalancePolicy,
    Building,
    Bus,
    IntervalReading,
    LedgerEntry,
    Meter,
    Room,
    TariffPlan,
)
from app.vocabulary import AccountStatus, LedgerKind, ReadingQuality

Rows = list[dict[str, str]]


def _reading(units: int | None) -> str:
    """Wh or litres as the display's kWh or m3, without trailing zeros."""
    if units is None:
        return ""
    whole, part = divmod(units, 1000)
    return f"{whole}" if part == 0 else f"{whole}.{part:03d}".rstrip("0")


def site_sheets(db: Database) -> dict[str, Rows]:
    with db.session() as session:
        currency = site_currency(session)
        rooms: Rows = [
            {"building": name, "floor": str(floor), "room": number, "note": note}
            for name, floor, number, note in session.execute(
                select(Building.name, Room.floor, Room.number, Room.note)
                .join(Building, Building.id == Room.building_id)
                .where(Room.retired_at.is_(None), Building.retired_at.is_(None))
                .order_by(Building.name, Room.floor, Room.number)
            )
        ]
        buses: Rows = [
            {
                "bus": b.name,
                "port": b.url,
                "baud": str(b.baudrate),
                "parity": b.parity,
                "stopbits": str(b.stopbits),
                "profile": b.profile or "",
                "enabled": "yes" if b.enabled else "no",
            }
            for b in session.scalars(select(Bus).where(Bus.retired_at.is_(None)).order_by(Bus.name))
        ]
        good = IntervalReading.quality == ReadingQuality.GOOD
        earliest = (  # each meter's first good reading: its initial reading
            select(IntervalReading.meter_id, func.min(IntervalReading.read_at).label("read_at"))
            .join(Meter, Meter.id == IntervalReading.meter_id)
            .where(Meter.removed_at.is_(None), good)
            .group_by(IntervalReading.meter_id)
            .subquery()
        )
        first: dict[int, int] = dict(
            session.execute(
                select(IntervalReading.meter_id, IntervalReading.register_units).join(
                    earliest,
                    (IntervalReading.meter_id == earliest.c.meter_id)
                    & (IntervalReading.read_at == earliest.c.read_at),
                )
            ).all()
        )
        meters: Rows = [
            {
                "serial": m.serial,
                "utility": m.utility.value,
                "room": label or "",
                "bus": bus,
                "address": m.address,
                "profile": m.profile,
                "multiplier": str(m.multiplier),
                "initial_reading": _reading(first.get(m.id)),
            }
            for m, label, bus in session.execute(
                select(Meter, Room.label, Bus.name)
                .join(Bus, Bus.id == Meter.bus_id)
                .outerjoin(Room, Room.id == Meter.room_id)
                .where(Meter.removed_at.is_(None))
                .order_by(Bus.name, Meter.serial)
            )
        ]
        plans: dict[int, list[str]] = defaultdict(list)
        for account_id, name in session.execute(
            select(AccountTariff.account_id, TariffPlan.name)
            .join(TariffPlan, TariffPlan.id == AccountTariff.plan_id)
            .order_by(AccountTariff.account_id, AccountTariff.utility)
        ):
            plans[account_id].append(name)
        openings = dict(
            session.execute(
                select(LedgerEntry.account_id, LedgerEntry.amount_minor).where(
                    LedgerEntry.kind == LedgerKind.OPENING
                )
            ).all()
        )
        tenants: Rows = [
            {
                "room": label,
                "holder": a.holder_name,
                "holder_ref": a.holder_ref,
                "phone": a.phone,
                "tariffs": ";".join(plans.get(a.id, [])),
                "policy": policy,
                "opening_balance": str(Money(openings[a.id], currency))
                if openings.get(a.id)
                else "",
            }
            for a, label, policy in session.execute(
                select(Account, Room.label, BalancePolicy.name)
                .join(Room, Room.id == Account.room_id)
                .join(BalancePolicy, BalancePolicy.id == Account.policy_id)
                .where(Account.status == AccountStatus.OPEN)
                .order_by(Room.label)
            )
        ]
    return {"rooms": rooms, "buses": buses, "meters": meters, "tenants": tenants}
