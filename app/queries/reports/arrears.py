"""Arrears: who owes what since when. The open accounts of the scope whose balance was below
zero at the end of the period (the ledger's daily rollup summed up to that day: a row per
account and day, not every hourly posting), or that are cut off now when the period reaches
today; with the first day that ended below zero after the last that did not and how many days
ago that is, the last recharge and the tenant's phone. Most owed first; the total is what the
scope is owed."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from app.queries.report_table import Column, ColumnKind, ReportTable, counted
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, account_condition
from app.queries.reports.site_terms import SiteTerms, site_terms
from app.store.database import Database
from app.store.models import Account, LedgerDay, LedgerEntry, Room
from app.vocabulary import AccountStatus, LedgerKind, SupplyState


def arrears_report(
    db: Database, period: Period, scope: Scope, now: datetime | None = None
) -> ReportTable:
    now = now or datetime.now(UTC)
    with db.session() as session:
        terms = site_terms(session)
        condition = account_condition(session, scope)
        _start, end = period.bounds(terms.zone)
        current = end > now
        as_of = min(end, now)
        last_day = min(period.last, now.astimezone(terms.zone).date())
        rows = _owing(session, condition, last_day, current=current)
        ids = [account.id for account, *_ in rows]
        since = _owed_since(session, ids, last_day)
        last = _last_recharges(session, ids, as_of)
    columns = _columns(terms)
    table_rows = []
    for account, room, balance in sorted(rows, key=lambda r: (r[2], r[0].number)):
        began = since.get(account.id)
        recharged = last.get(account.id)
        table_rows.append(
            (
                account.number,
                account.holder_name,
                room or "",
                account.phone,
                balance,
                began,
                None if began is None else max(0, (last_day - began).days),
                None if recharged is None else recharged[0].astimezone(terms.zone).date(),
                None if recharged is None else recharged[1],
                _supply_words(account.supply_state),
            )
        )
    return terms.report(
        "arrears",
        f"Arrears, {period.words()}",
        f"{scope.heading()}; balances at the end of the period",
        columns,
        table_rows,
        label=counted(len(table_rows), "account"),
        notes=(
            "Accounts are listed under the room they are in now. Balances at the end of each "
            "day come from the ledger's daily rollup; owed since: the first day that ended "
            "below zero after the last that did not.",
        ),
        now=now,
    )


def _columns(terms: SiteTerms) -> tuple[Column, ...]:
    return (
        Column("account", "Account"),
        Column("holder", "Holder"),
        Column("room", "Room"),
        Column("phone", "Phone"),
        terms.money("balance", "Balance", total=True),
        Column("since", "Owed since", ColumnKind.DATE),
        Column("days", "Days", ColumnKind.COUNT),
        Column("last_recharge", "Last recharge", ColumnKind.DATE),
        terms.money("last_amount", "Amount"),
        Column("supply", "Supply now"),
    )


def _owing(
    session: Session, condition: object, last_day: date, *, current: bool
) -> list[tuple[Account, str | None, int]]:
    """(account, room label, balance at the end of ``last_day``) of the scope's open accounts
    in arrears. Today's is the account's balance (the ledger's sum, which ``ledger verify``
    proves); an earlier day's, the sum of the daily rollup up to it."""
    balance: ColumnElement[int]
    if current:  # the period reaches today: an account cut off now is in arrears too
        balance = Account.balance_minor.expression
        owing = or_(balance < 0, Account.supply_state == SupplyState.CUT_OFF)
        query = select(Account, Room.label, balance)
    else:
        balances = (
            select(LedgerDay.account_id, func.sum(LedgerDay.amount_minor).label("balance"))
            .where(LedgerDay.day <= last_day)
            .group_by(LedgerDay.account_id)
            .subquery()
        )
        balance = func.coalesce(balances.c.balance, 0)
        owing = balance < 0
        query = select(Account, Room.label, balance).outerjoin(
            balances, balances.c.account_id == Account.id
        )
    query = query.outerjoin(Room, Room.id == Account.room_id).where(
        Account.status == AccountStatus.OPEN, owing
    )
    if condition is not None:
        query = query.where(condition)  # type: ignore[arg-type]
    return [(account, room, int(value)) for account, room, value in session.execute(query)]


def _owed_since(session: Session, ids: list[int], last_day: date) -> dict[int, date]:
    """The first day that ended below zero after the last day that did not, per account."""
    out: dict[int, date] = {}
    running: dict[int, int] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        query = (
            select(LedgerDay.account_id, LedgerDay.day, func.sum(LedgerDay.amount_minor))
            .where(LedgerDay.account_id.in_(chunk), LedgerDay.day <= last_day)
            .group_by(LedgerDay.account_id, LedgerDay.day)
            .order_by(LedgerDay.account_id, LedgerDay.day)
        )
        for account_id, day, amount in session.execute(query):
            balance = running.get(account_id, 0) + int(amount)
            running[account_id] = balance
            if balance >= 0:
                out.pop(account_id, None)
            elif account_id not in out:
                out[account_id] = day
    return out


def _last_recharges(
    session: Session, ids: list[int], as_of: datetime
) -> dict[int, tuple[datetime, int]]:
    out: dict[int, tuple[datetime, int]] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        newest = (
            select(func.max(LedgerEntry.id))
            .where(
                LedgerEntry.account_id.in_(chunk),
                LedgerEntry.kind == LedgerKind.RECHARGE,
                LedgerEntry.created_at < as_of,
            )
            .group_by(LedgerEntry.account_id)
        )
        for account_id, made, amount in session.execute(
            select(LedgerEntry.account_id, LedgerEntry.created_at, LedgerEntry.amount_minor).where(
                and_(LedgerEntry.id.in_(newest))
            )
        ):
            out[account_id] = (made, amount)
    return out


def _supply_words(state: SupplyState) -> str:
    return {
        SupplyState.NORMAL: "on",
        SupplyState.ALARM_1: "on (low balance)",
        SupplyState.ALARM_2: "on (very low)",
        SupplyState.ZERO: "on (zero balance)",
        SupplyState.OVERDRAFT: "on (overdraft)",
        SupplyState.CUT_OFF: "cut off",
    }[state]
