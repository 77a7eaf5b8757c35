"""Arrears: who owes what since when. The open accounts of the scope whose balance was below
zero at the end of the period (read from the ledger: the balance after the last entry before
then), or that are cut off now when the period reaches today; with the day the balance last went
below zero and how many days ago that is, the last recharge and the tenant's phone. Most owed
first; the total is what the site is owed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.queries.report_table import Column, ColumnKind, ReportTable, totals_of
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, account_condition
from app.queries.reports.site_terms import SiteTerms, site_terms
from app.store.database import Database
from app.store.models import Account, LedgerEntry, Room
from app.vocabulary import AccountStatus, LedgerKind, SupplyState


def arrears_report(
    db: Database, period: Period, scope: Scope, now: datetime | None = None
) -> ReportTable:
    now = now or datetime.now(UTC)
    with db.session() as session:
        terms = site_terms(session)
        condition = account_condition(session, scope)
        _start, end = period.bounds(terms.zone)
        as_of = min(end, now)
        rows = _owing(session, condition, as_of, current=end > now)
        ids = [account.id for account, *_ in rows]
        since = _owed_since(session, ids, as_of)
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
                None if began is None else began.astimezone(terms.zone).date(),
                None if began is None else max(0, (as_of - began).days),
                None if recharged is None else recharged[0].astimezone(terms.zone).date(),
                None if recharged is None else recharged[1],
                _supply_words(account.supply_state),
            )
        )
    rows_tuple = tuple(table_rows)
    count = len(rows_tuple)
    return ReportTable(
        name="arrears",
        title=f"Arrears, {period.words()}",
        subtitle=f"{scope.words().capitalize()}; balances at the end of the period",
        site=terms.name,
        zone=terms.zone.key,
        generated_at=now,
        columns=columns,
        rows=rows_tuple,
        totals=totals_of(columns, rows_tuple, f"{count} account{'s' if count != 1 else ''}"),
        notes=(
            "Accounts are listed under the room they are in now. Owed since: the day their "
            "balance last went below zero.",
        ),
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
    session: Session, condition: object, as_of: datetime, *, current: bool
) -> list[tuple[Account, str | None, int]]:
    """(account, room label, balance at ``as_of``) of the scope's open accounts in arrears."""
    last = (
        select(LedgerEntry.account_id, func.max(LedgerEntry.id).label("last_id"))
        .where(LedgerEntry.created_at < as_of)
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    balance = func.coalesce(LedgerEntry.balance_after_minor, 0)
    owing = balance < 0
    if current:  # the period reaches today: an account cut off now is in arrears too
        owing = or_(owing, Account.supply_state == SupplyState.CUT_OFF)
    query = (
        select(Account, Room.label, balance)
        .outerjoin(last, last.c.account_id == Account.id)
        .outerjoin(LedgerEntry, LedgerEntry.id == last.c.last_id)
        .outerjoin(Room, Room.id == Account.room_id)
        .where(Account.status == AccountStatus.OPEN, owing)
    )
    if condition is not None:
        query = query.where(condition)  # type: ignore[arg-type]
    return [(account, room, int(value)) for account, room, value in session.execute(query)]


def _owed_since(session: Session, ids: list[int], as_of: datetime) -> dict[int, datetime]:
    """When each account's balance last went below zero: the first entry after its last
    entry that left it at zero or above."""
    out: dict[int, datetime] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        paid_up = (
            select(LedgerEntry.account_id, func.max(LedgerEntry.id).label("ok_id"))
            .where(
                LedgerEntry.account_id.in_(chunk),
                LedgerEntry.balance_after_minor >= 0,
                LedgerEntry.created_at < as_of,
            )
            .group_by(LedgerEntry.account_id)
            .subquery()
        )
        query = (
            select(LedgerEntry.account_id, func.min(LedgerEntry.created_at))
            .outerjoin(paid_up, paid_up.c.account_id == LedgerEntry.account_id)
            .where(
                LedgerEntry.account_id.in_(chunk),
                LedgerEntry.created_at < as_of,
                LedgerEntry.balance_after_minor < 0,
                or_(paid_up.c.ok_id.is_(None), LedgerEntry.id > paid_up.c.ok_id),
            )
            .group_by(LedgerEntry.account_id)
        )
        for account_id, began in session.execute(query):
            out[account_id] = _aware(began)
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


def _aware(value: datetime | str) -> datetime:
    """``min`` over a UtcDateTime column comes back untyped on SQLite."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _supply_words(state: SupplyState) -> str:
    return {
        SupplyState.NORMAL: "on",
        SupplyState.ALARM_1: "on (low balance)",
        SupplyState.ALARM_2: "on (very low)",
        SupplyState.ZERO: "on (zero balance)",
        SupplyState.OVERDRAFT: "on (overdraft)",
        SupplyState.CUT_OFF: "cut off",
    }[state]
