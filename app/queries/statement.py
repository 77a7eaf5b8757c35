"""One account's monthly statement (the bill inquiry at the counter): read from the ledger, the
receipts and the usage charges of one month of the site's calendar (local midnight to local
midnight, ``Period.bounds``).

The opening balance is the balance after the account's last ledger entry before the month (0
when there is none, e.g. for a month before the account was opened); the closing balance is the
balance after the month's last entry. Both come from the ledger itself, and the statement is
refused when they do not differ by exactly the month's entries, so a statement never prints
figures that do not add up. Usage postings (hourly) are summed into one figure and detailed per
meter, charge kind, TOU period, tier and unit price from the ``UsageCharge`` rows posted in them
(the engine writes one per billing cycle, period, tier and price; plus the free-of-charge ones,
which no posting carries, by the end of their span). A line that nets to nothing (an all_units
tier step reached moves the step's earlier units to the next) is left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.queries.reports.period import Period
from app.queries.reports.site_terms import site_terms
from app.queries.statement_data import Statement, StatementLine, UsageLine
from app.store.database import Database
from app.store.models import (
    Account,
    LedgerEntry,
    Meter,
    Receipt,
    Room,
    Site,
    TariffPlan,
    TariffVersion,
    UsageCharge,
)
from app.vocabulary import LedgerKind, Utility


class StatementRefused(ValueError):
    """A statement that cannot be made; the message says what to give or do instead."""


def account_statement(
    db: Database, account_number: str, period: Period, now: datetime | None = None
) -> Statement:
    """The statement of the account numbered ``account_number`` over ``period`` (normally a
    month, ``Period.month``). StatementRefused for an unknown account or a ledger that does
    not add up over the period."""
    number = account_number.strip()
    with db.session() as session:
        terms = site_terms(session)
        found = session.execute(
            select(Account, Room.label)
            .outerjoin(Room, Room.id == Account.room_id)
            .where(Account.number == number)
        ).first()
        if found is None:
            raise StatementRefused(
                f"there is no account {number or repr(account_number)}; check the number "
                "('main.py account list' shows them)"
            )
        account, room = found
        address = session.scalar(select(Site.address).order_by(Site.id).limit(1)) or ""
        start, end = period.bounds(terms.zone)
        opening = _balance_before(session, account.id, start)
        entries = _entries(session, account.id, start, end)
        usage = _usage(session, account.id, start, end)
        holder, holder_ref = account.holder_name, account.holder_ref
    lines = tuple(row for row in entries if row.kind is not LedgerKind.CONSUMPTION)
    postings = [row.amount_minor for row in entries if row.kind is LedgerKind.CONSUMPTION]
    closing = entries[-1].balance_after_minor if entries else opening
    moved = sum(row.amount_minor for row in entries)
    if opening + moved != closing:
        raise StatementRefused(
            f"the ledger of account {number} does not add up over {period.words()} (opening "
            f"{opening} + entries {moved} is not the closing balance {closing}, in minor "
            "units); run 'main.py ledger verify' and fix the ledger before printing statements"
        )
    return Statement(
        site_name=terms.name,
        site_address=address,
        currency=terms.currency,
        places=terms.places,
        zone=terms.zone,
        account_number=number,
        holder_name=holder,
        holder_ref=holder_ref,
        room=room or "",
        period=period,
        generated_at=now or datetime.now(UTC),
        opening_minor=opening,
        closing_minor=closing,
        lines=lines,
        usage_billed_minor=sum(postings),
        usage_postings=len(postings),
        usage=usage,
    )


def _balance_before(session: Session, account_id: int, start: datetime) -> int:
    balance = session.scalar(
        select(LedgerEntry.balance_after_minor)
        .where(LedgerEntry.account_id == account_id, LedgerEntry.created_at < start)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    return int(balance or 0)


def _entries(
    session: Session, account_id: int, start: datetime, end: datetime
) -> list[StatementLine]:
    """The account's entries inside [start, end), in ledger order, with their receipt's number
    (usage postings included: the caller sums them)."""
    query = (
        select(
            LedgerEntry.id,
            LedgerEntry.created_at,
            LedgerEntry.kind,
            Receipt.number,
            LedgerEntry.reference,
            LedgerEntry.reason,
            LedgerEntry.amount_minor,
            LedgerEntry.balance_after_minor,
        )
        .outerjoin(Receipt, Receipt.ledger_entry_id == LedgerEntry.id)
        .where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
        )
        .order_by(LedgerEntry.id)
    )
    return [
        StatementLine(
            entry_id=entry_id,
            at=at,
            kind=kind,
            receipt_number=receipt,
            reference=reference,
            reason=reason,
            amount_minor=int(amount),
            balance_after_minor=int(after),
        )
        for entry_id, at, kind, receipt, reference, reason, amount, after in session.execute(query)
    ]


_UsageKey = tuple[str, Utility, str, str, str | None, int | None, str]


def _usage(
    session: Session, account_id: int, start: datetime, end: datetime
) -> tuple[UsageLine, ...]:
    """The usage charges posted in the month's entries (and the unposted free ones that ended
    in the month), summed per meter, utility, kind, TOU period, tier and unit price."""
    posted = _charges().where(
        LedgerEntry.account_id == account_id,
        LedgerEntry.created_at >= start,
        LedgerEntry.created_at < end,
    )
    free = _charges(posted=False).where(
        UsageCharge.account_id == account_id,
        UsageCharge.ledger_entry_id.is_(None),
        UsageCharge.end_at > start,
        UsageCharge.end_at <= end,
    )
    quantities: dict[_UsageKey, Decimal] = defaultdict(Decimal)
    amounts: dict[_UsageKey, int] = defaultdict(int)
    for query in (posted, free):
        for serial, utility, unit, kind, tou, tier, price, quantity, amount in session.execute(
            query
        ):
            key = (serial, utility, unit, kind, tou, tier, price.strip())
            quantities[key] += Decimal(quantity)
            amounts[key] += int(amount or 0)
    lines = [  # an all_units tier step moves earlier units: their old step can net to nothing
        UsageLine(
            meter_serial=serial,
            utility=utility,
            unit=unit,
            kind=kind,
            period=tou,
            tier=tier,
            unit_price=Decimal(price) if price else None,
            quantity=quantities[key],
            amount_minor=amounts[key],
        )
        for key in quantities
        for serial, utility, unit, kind, tou, tier, price in [key]
        if quantities[key] or amounts[key]
    ]
    return tuple(sorted(lines, key=_usage_order))


def _charges(
    *, posted: bool = True
) -> Select[str, Utility, str, str, str | None, int | None, str, str, int | None]:
    """Usage charges with their meter and unit (and, ``posted``, joined to their entry)."""
    query = (
        select(
            Meter.serial,
            Meter.utility,
            TariffPlan.unit,
            UsageCharge.kind,
            UsageCharge.period,
            UsageCharge.tier,
            UsageCharge.unit_price,
            UsageCharge.quantity,
            UsageCharge.amount_minor,
        )
        .join(Meter, Meter.id == UsageCharge.meter_id)
        .join(TariffVersion, TariffVersion.id == UsageCharge.tariff_version_id)
        .join(TariffPlan, TariffPlan.id == TariffVersion.plan_id)
    )
    if posted:
        query = query.join(LedgerEntry, LedgerEntry.id == UsageCharge.ledger_entry_id)
    return query


def _usage_order(line: UsageLine) -> tuple[object, ...]:
    """Per meter; energy before allowance; by tier step (1, 2, 3); within a step dearer
    prices first (sharp, peak, flat, valley come out in that order)."""
    price = line.unit_price if line.unit_price is not None else Decimal(0)
    return (
        line.meter_serial,
        line.kind != "energy",
        line.kind,
        line.tier or 0,
        -price,
        line.period or "",
    )
