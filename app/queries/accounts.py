"""Read-only views of accounts for screens and the CLI: plain dataclasses, no ORM objects."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.queries.site_facts import site_currency
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    BalancePolicy,
    Building,
    Bus,
    LedgerEntry,
    Meter,
    Room,
    TariffPlan,
)
from app.vocabulary import AccountStatus, LedgerKind, MeterStatus, SupplyState, Utility

RECENT_ENTRIES = 25

# Fetch big lists in chunks: the GUI thread gets the GIL between chunks.
YIELD_PER = 2000


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One line of the accounts list."""

    id: int
    number: str
    room_label: str
    building: str
    holder_name: str
    holder_ref: str
    status: AccountStatus
    supply_state: SupplyState
    balance_minor: int
    meter_serials: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MeterLine:
    serial: str
    utility: Utility
    profile: str
    bus_name: str
    address: str
    status: MeterStatus
    relay_closed: bool | None
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class LedgerLine:
    entry_id: int
    created_at: datetime
    kind: LedgerKind
    amount_minor: int
    balance_after_minor: int
    reason: str
    reference: str


@dataclass(frozen=True, slots=True)
class AccountDetail:
    row: AccountRow
    currency: str
    phone: str
    opened_at: datetime
    policy_name: str
    alarm_1_minor: int
    alarm_2_minor: int
    overdraft_limit_minor: int
    keep_power_until: datetime | None
    tariffs: tuple[tuple[Utility, str], ...]
    meters: tuple[MeterLine, ...]
    recent_entries: tuple[LedgerLine, ...]


def list_accounts(db: Database) -> list[AccountRow]:
    """Every account, open and closed, ordered by account number (two queries, no N+1)."""
    with db.session() as session:
        serials: dict[int, list[str]] = defaultdict(list)
        for account_id, serial in session.execute(
            select(Meter.account_id, Meter.serial)
            .where(Meter.account_id.is_not(None), Meter.status != MeterStatus.REMOVED)
            .order_by(Meter.serial)
            .execution_options(yield_per=YIELD_PER)
        ):
            if account_id is not None:
                serials[account_id].append(serial)
        rows = session.execute(
            select(
                Account.id,
                Account.number,
                Room.label,
                Building.name,
                Account.holder_name,
                Account.holder_ref,
                Account.status,
                Account.supply_state,
                Account.balance_minor,
            )
            .outerjoin(Room, Account.room_id == Room.id)
            .outerjoin(Building, Room.building_id == Building.id)
            .order_by(Account.number)
            .execution_options(yield_per=YIELD_PER)
        ).all()
    return [
        AccountRow(
            id=r[0],
            number=r[1],
            room_label=r[2] or "",
            building=r[3] or "",
            holder_name=r[4],
            holder_ref=r[5],
            status=r[6],
            supply_state=r[7],
            balance_minor=r[8],
            meter_serials=tuple(serials.get(r[0], ())),
        )
        for r in rows
    ]


def find_account_id(db: Database, number: str) -> int | None:
    """The id of the account with this number, or None."""
    with db.session() as session:
        return session.scalar(select(Account.id).where(Account.number == number.strip()))


def get_account_detail(db: Database, account_id: int) -> AccountDetail | None:
    """Everything the detail pane shows for one account, or None if it does not exist."""
    with db.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            return None
        room = account.room
        policy = session.get_one(BalancePolicy, account.policy_id)
        meters = session.execute(
            select(Meter, Bus.name)
            .join(Bus, Meter.bus_id == Bus.id)
            .where(Meter.account_id == account_id, Meter.status != MeterStatus.REMOVED)
            .order_by(Meter.utility, Meter.serial)
        ).all()
        tariffs = session.execute(
            select(AccountTariff.utility, TariffPlan.name)
            .join(TariffPlan, AccountTariff.plan_id == TariffPlan.id)
            .where(AccountTariff.account_id == account_id)
            .order_by(AccountTariff.utility)
        ).all()
        entries = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.id.desc())
            .limit(RECENT_ENTRIES)
        ).all()
        currency = site_currency(session)
        row = AccountRow(
            id=account.id,
            number=account.number,
            room_label=room.label if room else "",
            building=room.building.name if room else "",
            holder_name=account.holder_name,
            holder_ref=account.holder_ref,
            status=account.status,
            supply_state=account.supply_state,
            balance_minor=account.balance_minor,
            meter_serials=tuple(m.serial for m, _ in meters),
        )
        return AccountDetail(
            row=row,
            currency=currency,
            phone=account.phone,
            opened_at=account.opened_at,
            policy_name=policy.name,
            alarm_1_minor=policy.alarm_1_minor,
            alarm_2_minor=policy.alarm_2_minor,
            overdraft_limit_minor=policy.overdraft_limit_minor,
            keep_power_until=account.keep_power_until,
            tariffs=tuple((u, n) for u, n in tariffs),
            meters=tuple(
                MeterLine(
                    m.serial,
                    m.utility,
                    m.profile,
                    bus_name,
                    m.address,
                    m.status,
                    m.relay_closed,
                    m.last_seen_at,
                )
                for m, bus_name in meters
            ),
            recent_entries=tuple(
                LedgerLine(
                    e.id,
                    e.created_at,
                    e.kind,
                    e.amount_minor,
                    e.balance_after_minor,
                    e.reason,
                    e.reference,
                )
                for e in entries
            ),
        )
