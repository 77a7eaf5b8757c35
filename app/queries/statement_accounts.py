"""Which accounts a batch of monthly statements covers: every account of the scope (the whole
site, a building, a floor of it) that was open at any moment of the month in the site's
calendar: opened before the month ended and not closed before it began. An account belongs to
the room it is in now (as in every report, ``queries.reports.scope``): one that moved between
buildings in the month is printed with its present building, once.

In print order: building code, floor, room number (``A-2`` before ``A-10``), account number (a
room that changed tenants in the month has two)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select

from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, account_condition
from app.queries.reports.site_terms import site_terms
from app.store.database import Database
from app.store.models import Account, Building, Room

_DIGITS = re.compile(r"([0-9]+)")


@dataclass(frozen=True)
class StatementAccount:
    number: str
    room: str  # the room's label now ("" for an account without a room)
    building: str  # its building's code ("" without a room)
    floor: int | None
    holder_name: str


@dataclass(frozen=True)
class StatementAccounts:
    """The accounts of one batch, and the scope in words for its files and messages."""

    accounts: tuple[StatementAccount, ...]
    scope_words: str  # "the whole site", "building A", "building A, floor 3"
    scope_slug: str  # for file names: "site", "A", "A-floor3"


def accounts_open_in(db: Database, period: Period, scope: Scope) -> StatementAccounts:
    """The accounts open at some moment of ``period`` in ``scope`` (a building and floor, or
    the whole site), in print order. ScopeRefused (from ``queries.reports.scope``) for a
    building the site does not have, or a floor without a building."""
    with db.session() as session:
        terms = site_terms(session)
        start, end = period.bounds(terms.zone)
        where = account_condition(session, scope)
        query = (
            select(
                Account.number,
                Room.label,
                Building.code,
                Room.floor,
                Room.number,
                Account.holder_name,
            )
            .outerjoin(Room, Room.id == Account.room_id)
            .outerjoin(Building, Building.id == Room.building_id)
            .where(
                Account.opened_at < end,
                or_(Account.closed_at.is_(None), Account.closed_at >= start),
            )
        )
        if where is not None:
            query = query.where(where)
        rows = session.execute(query).all()
        code = None
        if scope.building:
            wanted = scope.building.strip()
            code = session.scalar(
                select(Building.code).where(or_(Building.code == wanted, Building.name == wanted))
            )
    found = sorted(rows, key=lambda r: _order(r[2], r[3], r[4], r[0]))
    accounts = tuple(
        StatementAccount(number, label or "", building or "", floor, holder)
        for number, label, building, floor, _room_number, holder in found
    )
    if code is None:
        return StatementAccounts(accounts, "the whole site", "site")
    if scope.floor is None:
        return StatementAccounts(accounts, f"building {code}", code)
    return StatementAccounts(
        accounts, f"building {code}, floor {scope.floor}", f"{code}-floor{scope.floor}"
    )


def _order(
    building: str | None, floor: int | None, room_number: str | None, account: str
) -> tuple[object, ...]:
    """Accounts without a room last; numbers inside room and account numbers compared as
    numbers (``A-2`` before ``A-10``)."""
    return (
        building is None,
        building or "",
        floor if floor is not None else 0,
        _natural(room_number or ""),
        _natural(account),
    )


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isascii() and part.isdigit() else (1, part)
        for part in _DIGITS.split(text)
        if part
    )
