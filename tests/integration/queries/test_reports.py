"""The arrears and revenue reports agree with the ledger: money moved through the services
(recharges by several methods and operators in a shift, usage posted by the engine's ledger
call, a correction) is reported to the minor unit, per day, method, operator and shift; the
scope narrows it to a building; refusals say what to give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.reports.period import Period, PeriodRefused
from app.queries.reports.scope import Scope, ScopeRefused
from app.queries.reports.site_terms import site_terms
from app.services.ledger import NewEntry, post_entries, post_entry
from app.services.ledger_verify import verify_ledger
from app.services.operators import SignedIn, login
from app.services.permissions import PermissionDenied
from app.services.recharge import new_key, recharge
from app.services.reports import REPORTS, ReportRefused, run_report
from app.services.shifts import open_shift
from app.store.database import Database
from app.store.models import Account, Building, LedgerEntry, Receipt, Room
from app.vocabulary import LedgerKind, PaymentMethod, ReceiptKind, Role


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=3))
    return db


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def numbers(db: Database, building: str | None = None) -> list[str]:
    with db.session() as session:
        query = select(Account.number).join(Room, Room.id == Account.room_id)
        if building is not None:
            query = query.join(Building, Building.id == Room.building_id).where(
                Building.code == building
            )
        return list(session.scalars(query.order_by(Account.number)))


def today(db: Database) -> Period:
    with db.session() as session:
        zone = site_terms(session).zone
    return Period.day(datetime.now(zone).date())


def ledger_sum(db: Database, period: Period, kind: LedgerKind | None = None) -> int:
    with db.session() as session:
        start, end = period.bounds(site_terms(session).zone)
        query = select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.created_at >= start, LedgerEntry.created_at < end
        )
        if kind is not None:
            query = query.where(LedgerEntry.kind == kind)
        return int(session.scalar(query) or 0)


@pytest.fixture
def busy_day(site: Database) -> Database:
    """Today: two cashiers take money in shifts by several methods, the engine posts usage,
    a supervisor makes a correction."""
    cashier, boss = who(site, Role.CASHIER), who(site, Role.SUPERVISOR)
    open_shift(site, cashier, "100.00")
    accounts = numbers(site)
    recharge(site, cashier, accounts[0], "50.00", PaymentMethod.CASH, new_key())
    recharge(site, cashier, accounts[1], "20.50", PaymentMethod.CASH, new_key())
    recharge(site, cashier, accounts[2], "33.33", PaymentMethod.CARD, new_key())
    recharge(site, boss, accounts[3], "10.00", PaymentMethod.TRANSFER, new_key())
    with site.transaction() as session:
        ids = list(session.scalars(select(Account.id).order_by(Account.id)))
        post_entries(
            session,
            [
                NewEntry(account_id, LedgerKind.CONSUMPTION, -(137 + n), "usage")
                for n, account_id in enumerate(ids)
            ],
        )
        post_entry(session, ids[0], LedgerKind.ADJUSTMENT, 250, reason="meter misread")
    return site


def test_revenue_by_day_agrees_with_the_ledger(busy_day: Database) -> None:
    period = today(busy_day)
    table = run_report(busy_day, who(busy_day, Role.OFFICE), "revenue", period, Scope())
    totals = dict(zip([c.key for c in table.columns], table.totals or (), strict=True))
    assert totals["recharges"] == 4
    assert totals["recharged"] == 5000 + 2050 + 3333 + 1000
    assert totals["recharged"] == ledger_sum(busy_day, period, LedgerKind.RECHARGE)
    assert totals["usage"] == ledger_sum(busy_day, period, LedgerKind.CONSUMPTION)
    assert totals["corrections"] == 250
    assert totals["net"] == ledger_sum(busy_day, period)  # every entry of the day
    assert len(table.rows) == 1
    # The rollup the report read is the ledger's (the usage here has no charges behind it, so
    # verify names those entries, and nothing else).
    problems = {p.what for p in verify_ledger(busy_day).problems}
    assert "daily_rollup" not in problems


def test_revenue_by_method_operator_and_shift(busy_day: Database) -> None:
    period, office = today(busy_day), who(busy_day, Role.OFFICE)
    by_method = run_report(busy_day, office, "revenue", period, Scope(), "method")
    rows = {row[0]: row for row in by_method.rows}
    recharged = by_method.column("recharged")
    assert rows["cash"][recharged] == 7050
    assert rows["card"][recharged] == 3333
    assert rows["transfer"][recharged] == 1000
    with busy_day.session() as session:
        receipts = session.scalar(
            select(func.sum(Receipt.amount_minor)).where(Receipt.kind == ReceiptKind.RECHARGE)
        )
    assert by_method.totals is not None
    assert by_method.totals[recharged] == receipts

    by_operator = run_report(busy_day, office, "revenue", period, Scope(), "operator")
    people = {row[0]: row[by_operator.column("recharges")] for row in by_operator.rows}
    assert sorted(people.values()) == [1, 3]

    by_shift = run_report(busy_day, office, "revenue", period, Scope(), "shift")
    cashier = who(busy_day, Role.CASHIER).display_name
    [shift] = [row for row in by_shift.rows if row[by_shift.column("cashier")] == cashier]
    assert shift[by_shift.column("float")] == 10000
    assert shift[by_shift.column("cash_in")] == 7050
    assert shift[by_shift.column("expected")] == 10000 + 7050
    assert shift[by_shift.column("counted")] is None  # still open


def test_the_scope_narrows_revenue_to_a_building(busy_day: Database) -> None:
    period, office = today(busy_day), who(busy_day, Role.OFFICE)
    whole = run_report(busy_day, office, "revenue", period, Scope())
    block_a = run_report(busy_day, office, "revenue", period, Scope(building="A"))
    block_b = run_report(busy_day, office, "revenue", period, Scope(building="B"))
    net = whole.column("net")
    assert whole.totals is not None
    assert block_a.totals is not None
    assert block_b.totals is not None
    assert block_a.totals[net] + block_b.totals[net] == whole.totals[net]  # type: ignore[operator]
    assert block_a.totals[net] != whole.totals[net]


def test_arrears_lists_who_owes_since_when(site: Database) -> None:
    number = numbers(site, "A")[0]
    with site.transaction() as session:
        account = session.scalars(select(Account).where(Account.number == number)).one()
        post_entry(
            session,
            account.id,
            LedgerKind.CONSUMPTION,
            -(account.balance_minor + 1234),
            reason="usage",
            at=datetime.now(UTC) - timedelta(days=3),
        )
    period = today(site)
    table = run_report(site, who(site, Role.SUPERVISOR), "arrears", period, Scope())
    rows = {row[0]: row for row in table.rows}
    assert rows[number][table.column("balance")] == -1234
    assert rows[number][table.column("days")] == 3
    with site.session() as session:
        owed = session.scalar(
            select(func.sum(Account.balance_minor)).where(Account.balance_minor < 0)
        )
    assert table.totals is not None
    assert table.totals[table.column("balance")] == owed
    assert [row[table.column("balance")] for row in table.rows] == sorted(
        row[table.column("balance")]
        for row in table.rows  # type: ignore[type-var]
    )
    only_b = run_report(site, who(site, Role.SUPERVISOR), "arrears", period, Scope(building="B"))
    assert number not in {row[0] for row in only_b.rows}

    # Paid up today: gone from today's arrears, still in those of two days ago (the rollup).
    recharge(site, who(site, Role.CASHIER), number, "20.00", PaymentMethod.CASH, new_key())
    now_listed = run_report(site, who(site, Role.SUPERVISOR), "arrears", period, Scope())
    assert number not in {row[0] for row in now_listed.rows}
    before = Period.day(period.first - timedelta(days=2))
    then = run_report(site, who(site, Role.SUPERVISOR), "arrears", before, Scope())
    rows = {row[0]: row for row in then.rows}
    assert rows[number][then.column("balance")] == -1234
    assert rows[number][then.column("days")] == 1


def test_refusals_say_what_to_give(site: Database) -> None:
    period = today(site)
    with pytest.raises(PermissionDenied, match="may not view and export reports"):
        run_report(site, who(site, Role.CASHIER), "revenue", period, Scope())
    office = who(site, Role.OFFICE)
    with pytest.raises(ScopeRefused, match="there is no building Z; the site's buildings are A, B"):
        run_report(site, office, "revenue", period, Scope(building="Z"))
    with pytest.raises(ScopeRefused, match="give --building with --floor"):
        run_report(site, office, "arrears", period, Scope(floor=2))
    with pytest.raises(ReportRefused, match="the arrears report has no groupings"):
        run_report(site, office, "arrears", period, Scope(), "method")
    with pytest.raises(ReportRefused, match="there is no report 'takings'"):
        run_report(site, office, "takings", period, Scope())
    with pytest.raises(PeriodRefused, match=r"ends .* before it starts"):
        Period.parse("2026-11-30", "2026-11-01")
    with pytest.raises(PeriodRefused, match="is not a date"):
        Period.parse("30/11/2026", "2026-12-01")
    assert Period.parse("2026-11", "2026-12") == Period(
        datetime(2026, 11, 1).date(), datetime(2026, 12, 31).date()
    )
    assert {"arrears", "revenue"} <= set(REPORTS)
