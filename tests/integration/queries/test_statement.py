"""The monthly statement agrees with the ledger: the opening balance is the balance after the
last entry before the month, the closing balance the balance after the month's last entry and
the opening plus every movement; entries a moment before and at the site's local midnight fall
in the right month; usage postings are summed and detailed per meter, TOU period, tier and
unit price from their usage charges (as the engine writes them, too); refusals say what to do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.queries.reports.period import Period, local_day
from app.queries.statement import StatementRefused, account_statement
from app.queries.statement_data import (
    CORRECTION_KINDS,
    FEE_KINDS,
    OTHER_KINDS,
    RECHARGE_KINDS,
    REFUND_KINDS,
    USAGE_KINDS,
    Statement,
)
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import NewEntry, post_entries, post_entry
from app.services.operators import SignedIn, login
from app.services.permissions import PermissionDenied
from app.services.recharge import new_key, recharge
from app.services.statements import parse_month, statement_file_name, statement_for
from app.store.database import Database
from app.store.field_lock import SoleLocks
from app.store.models import (
    Account,
    AccountTariff,
    LedgerEntry,
    Meter,
    TariffVersion,
    UsageCharge,
)
from app.vocabulary import LedgerKind, PaymentMethod, Role, Utility

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's zone
MARCH = Period.month(2031, 3)  # after all of the demo's history: entries stay in ledger order


@dataclass(frozen=True)
class Tenant:
    account_id: int
    number: str
    meters: dict[Utility, int]  # meter ids
    versions: dict[Utility, int]  # the tariff version of each utility


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return db


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def tenant(db: Database) -> Tenant:
    """The first account with an electricity and a water meter."""
    with db.session() as session:
        for account in session.scalars(select(Account).order_by(Account.id)):
            meters = {
                m.utility: m.id
                for m in session.scalars(select(Meter).where(Meter.account_id == account.id))
            }
            if {Utility.ELECTRICITY, Utility.WATER} <= meters.keys():
                versions: dict[Utility, int] = dict(
                    session.execute(
                        select(AccountTariff.utility, func.min(TariffVersion.id))
                        .join(TariffVersion, TariffVersion.plan_id == AccountTariff.plan_id)
                        .where(AccountTariff.account_id == account.id)
                        .group_by(AccountTariff.utility)
                    ).all()
                )
                return Tenant(account.id, account.number, meters, versions)
    raise AssertionError("the demo site has no room with electricity and water")


def local(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    """A site-local wall-clock time as the aware UTC moment the ledger stores."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZONE).astimezone(UTC)


def adjust(db: Database, account_id: int, amount: int, at: datetime, kind: LedgerKind) -> int:
    with db.transaction() as session:
        return post_entry(session, account_id, kind, amount, reason=f"test {kind}", at=at).entry_id


def usage(
    db: Database,
    t: Tenant,
    at: datetime,
    charges: list[tuple[Utility, str | None, int | None, str, str, int]],
) -> int:
    """A consumption posting at ``at`` with its usage charges (utility, period, tier, unit
    price, quantity, amount); returns the entry's id."""
    with db.transaction() as session:
        total = sum(amount for *_, amount in charges)
        (posted,) = post_entries(
            session,
            [NewEntry(t.account_id, LedgerKind.CONSUMPTION, -total, reason="usage: test")],
            at=at,
        )
        for utility, period, tier, price, quantity, amount in charges:
            session.add(
                UsageCharge(
                    account_id=t.account_id,
                    meter_id=t.meters[utility],
                    start_at=at - timedelta(hours=1),
                    end_at=at,
                    quantity=quantity,
                    tariff_version_id=t.versions[utility],
                    kind="energy",
                    period=period,
                    tier=tier,
                    unit_price=price,
                    amount_exact=str(amount),
                    ledger_entry_id=posted.entry_id,
                    amount_minor=amount,
                )
            )
        return posted.entry_id


def balance_after(db: Database, entry_id: int) -> int:
    with db.session() as session:
        entry = session.get(LedgerEntry, entry_id)
        assert entry is not None
        return entry.balance_after_minor


def adds_up(statement: Statement) -> None:
    """The summary's parts add up to the closing balance, and so does every movement."""
    parts = [RECHARGE_KINDS, REFUND_KINDS, CORRECTION_KINDS, USAGE_KINDS, FEE_KINDS, OTHER_KINDS]
    by_kind = sum(statement.total_of(kinds) for kinds in parts)
    moved = sum(line.amount_minor for line in statement.lines) + statement.usage_billed_minor
    assert statement.opening_minor + by_kind == statement.closing_minor
    assert statement.opening_minor + moved == statement.closing_minor


@pytest.fixture
def march(site: Database) -> tuple[Tenant, dict[str, int]]:
    """Entries a moment before, at and after the local midnights around March 2031, two usage
    postings in it (the same prices twice, another meter, a free allowance)."""
    t = tenant(site)
    ids = {
        "before": adjust(
            site, t.account_id, 1000, local(2031, 2, 28, 23, 59, 59), LedgerKind.ADJUSTMENT
        ),
        "first": adjust(site, t.account_id, -500, local(2031, 3, 1, 0, 0, 0), LedgerKind.FEE),
        "usage_1": usage(
            site,
            t,
            local(2031, 3, 10, 12, 0, 0),
            [
                (Utility.ELECTRICITY, "peak", 1, "0.8000", "1.5", 120),
                (Utility.ELECTRICITY, "valley", 1, "0.2500", "2.25", 56),
                (Utility.WATER, None, None, "4.00", "0.058", 23),
            ],
        ),
        "usage_2": usage(
            site,
            t,
            local(2031, 3, 15, 12, 0, 0),
            [
                (Utility.ELECTRICITY, "peak", 1, "0.8000", "0.25", 20),
                (Utility.ELECTRICITY, "peak", 2, "1.1000", "0.125", 14),
            ],
        ),
        "last": adjust(
            site, t.account_id, -300, local(2031, 3, 31, 23, 59, 59), LedgerKind.ADJUSTMENT
        ),
        "after": adjust(site, t.account_id, 700, local(2031, 4, 1, 0, 0, 0), LedgerKind.ADJUSTMENT),
    }
    with site.transaction() as session:  # free units: no posting carries them
        session.add(
            UsageCharge(
                account_id=t.account_id,
                meter_id=t.meters[Utility.ELECTRICITY],
                start_at=local(2031, 3, 20, 0, 0, 0),
                end_at=local(2031, 3, 20, 1, 0, 0),
                quantity="3",
                tariff_version_id=t.versions[Utility.ELECTRICITY],
                kind="allowance",
                period=None,
                tier=None,
                unit_price="0",
                amount_exact="0",
                ledger_entry_id=None,
                amount_minor=0,
            )
        )
    return t, ids


def test_a_month_runs_from_local_midnight_to_local_midnight(
    site: Database, march: tuple[Tenant, dict[str, int]]
) -> None:
    t, ids = march
    statement = account_statement(site, t.number, MARCH)
    assert statement.opening_minor == balance_after(site, ids["before"])
    assert [line.entry_id for line in statement.lines] == [ids["first"], ids["last"]]
    assert [line.kind for line in statement.lines] == [LedgerKind.FEE, LedgerKind.ADJUSTMENT]
    assert statement.closing_minor == balance_after(site, ids["last"])
    assert statement.closing_minor == statement.opening_minor - 500 - 199 - 34 - 300
    assert statement.usage_postings == 2
    assert statement.usage_billed_minor == -(120 + 56 + 23 + 20 + 14)
    assert statement.total_of(FEE_KINDS) == -500
    assert statement.total_of(CORRECTION_KINDS) == -300
    adds_up(statement)
    assert statement.zone.key == "Asia/Shanghai"
    assert statement.lines[0].at.astimezone(ZONE) == datetime(2031, 3, 1, tzinfo=ZONE)

    february = account_statement(site, t.number, Period.month(2031, 2))
    assert february.lines[-1].entry_id == ids["before"]
    assert february.closing_minor == statement.opening_minor
    adds_up(february)
    april = account_statement(site, t.number, Period.month(2031, 4))
    assert [line.entry_id for line in april.lines] == [ids["after"]]
    assert april.opening_minor == statement.closing_minor
    assert april.usage == ()
    assert april.usage_postings == 0
    adds_up(april)


def test_usage_is_summed_per_meter_period_tier_and_price(
    site: Database, march: tuple[Tenant, dict[str, int]]
) -> None:
    t, _ = march
    statement = account_statement(site, t.number, MARCH)
    got = [
        (u.utility, u.kind, u.period, u.tier, u.unit_price, u.quantity, u.amount_minor, u.unit)
        for u in statement.usage
    ]
    assert got == [  # per meter; energy first, by tier, dearer prices first; free units last
        (Utility.ELECTRICITY, "energy", "peak", 1, Decimal("0.8000"), Decimal("1.75"), 140, "kWh"),
        (Utility.ELECTRICITY, "energy", "valley", 1, Decimal("0.2500"), Decimal("2.25"), 56, "kWh"),
        (Utility.ELECTRICITY, "energy", "peak", 2, Decimal("1.1000"), Decimal("0.125"), 14, "kWh"),
        (Utility.ELECTRICITY, "allowance", None, None, Decimal("0"), Decimal("3"), 0, "kWh"),
        (Utility.WATER, "energy", None, None, Decimal("4.00"), Decimal("0.058"), 23, "m3"),
    ]
    assert statement.usage_detailed_minor == -statement.usage_billed_minor
    assert statement.usage_undetailed_minor == 0


def test_a_recharge_shows_its_receipt_and_the_service_checks_the_role(site: Database) -> None:
    t = tenant(site)
    done = recharge(site, who(site, Role.CASHIER), t.number, "88.80", PaymentMethod.CASH, new_key())
    with site.session() as session:
        entry = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == t.account_id)
            .order_by(LedgerEntry.id.desc())
        ).first()
        assert entry is not None
        balance = session.get_one(Account, t.account_id).balance_minor
    day = local_day(entry.created_at, ZONE)
    month = f"{day.year:04d}-{day.month:02d}"
    statement = statement_for(site, who(site, Role.OFFICE), f" {t.number} ", month)
    (line,) = [line for line in statement.lines if line.kind is LedgerKind.RECHARGE]
    assert line.receipt_number == done.receipt_number
    assert line.amount_minor == 8880
    assert statement.closing_minor == balance == line.balance_after_minor
    assert statement.total_of(RECHARGE_KINDS) == 8880
    adds_up(statement)
    assert statement.holder_name
    assert statement.room
    assert statement.site_address
    assert statement_file_name(statement) == f"statement-{t.number}-{month}.pdf"
    with pytest.raises(PermissionDenied):
        statement_for(site, who(site, Role.CASHIER), t.number, month)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "November", "2026-11-01", ""])
def test_a_month_that_cannot_be_read_says_how_to_give_it(site: Database, month: str) -> None:
    with pytest.raises(StatementRefused, match="give it like 2026-11"):
        statement_for(site, who(site, Role.SUPERVISOR), tenant(site).number, month)
    assert parse_month("2026-02") == Period.month(2026, 2)


def test_an_unknown_account_is_refused_and_a_month_before_opening_is_empty(site: Database) -> None:
    with pytest.raises(StatementRefused, match="there is no account 123; check the number"):
        account_statement(site, "123", MARCH)
    empty = account_statement(site, tenant(site).number, Period.month(2001, 1))
    assert (empty.opening_minor, empty.closing_minor, empty.lines, empty.usage) == (0, 0, (), ())
    assert empty.usage_postings == 0


def reading(
    meter_id: int, at: datetime, *, kwh: float | None = None, m3: float | None = None
) -> Snapshot:
    """A good interval reading of one meter, as a bus worker hands it to the engine."""
    return Snapshot(
        meter_id,
        "1",
        at.timestamp(),
        at,
        Quality.GOOD,
        energy_import_kwh=kwh,
        volume_m3=m3,
        relay_closed=True,
        valve_open=True if m3 is not None else None,
    )


def test_usage_rated_by_the_engine_is_detailed_per_meter(site: Database) -> None:
    t = tenant(site)
    rt = Runtime(site, RuntimeOptions(simulate=False), locks=SoleLocks())
    rt.claim_field()
    rt.engine.load()
    start = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)
    kwh, m3 = 1000.0, 50.0
    for n in range(12):
        at = start + n * timedelta(minutes=15)
        rt.engine.process(
            [
                reading(t.meters[Utility.ELECTRICITY], at, kwh=round(kwh, 3)),
                reading(t.meters[Utility.WATER], at, m3=round(m3, 3)),
            ]
        )
        kwh, m3 = kwh + 0.35, m3 + 0.01
    with site.transaction() as session:
        rt.billing.post(session)
    with site.session() as session:
        posting = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.account_id == t.account_id, LedgerEntry.reason.startswith("usage:")
            )
        ).one()
        charged = session.scalar(
            select(func.sum(UsageCharge.amount_minor)).where(
                UsageCharge.ledger_entry_id == posting.id
            )
        )
    day = local_day(posting.created_at, ZONE)
    statement = account_statement(site, t.number, Period.month(day.year, day.month))
    assert statement.usage_detailed_minor == charged == -posting.amount_minor > 0
    # Water was charged in that posting; the dormitory's electricity stayed inside its free
    # allowance: a charge of 0 that no posting carries, in the month its usage ended.
    assert [u.utility for u in statement.usage] == [Utility.WATER]
    adds_up(statement)
    november = account_statement(site, t.number, Period.month(2026, 11))
    (free,) = [u for u in november.usage if u.utility is Utility.ELECTRICITY]
    assert (free.quantity, free.amount_minor) == (Decimal("3.85"), 0)  # 11 steps of 0.35 kWh
    # The demo's carried-over history has no meter detail: it is told apart, not lost.
    for month in (statement, november):
        assert month.usage_detailed_minor + month.usage_undetailed_minor == (
            -month.usage_billed_minor
        )
        adds_up(month)


def test_usage_lines_per_tou_period_and_tier_with_their_prices(db: Database) -> None:
    """A tenant of the staff building (time-of-use electricity, water in three tiers): a line
    per meter, period and tier at its unit price, adding up to what the ledger billed."""
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    with db.session() as session:
        account_id, number = session.execute(
            select(Account.id, Account.number)
            .join(Meter, Meter.account_id == Account.id)
            .where(Meter.serial.startswith("WB"))
            .order_by(Account.id)
            .limit(1)
        ).one()
        meters = dict(
            session.execute(
                select(Meter.utility, Meter.id).where(Meter.account_id == account_id)
            ).all()
        )
    rt = Runtime(db, RuntimeOptions(simulate=False), locks=SoleLocks())
    rt.claim_field()
    rt.engine.load()
    start = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)  # peak, then flat
    for n in range(12):
        at = start + n * timedelta(minutes=15)
        rt.engine.process(
            [
                reading(meters[Utility.ELECTRICITY], at, kwh=round(1000 + 0.37 * n, 3)),
                reading(meters[Utility.WATER], at, m3=round(50 + 1.25 * n, 3)),
            ]
        )
    with db.transaction() as session:
        rt.billing.post(session)
        posted_at = session.scalar(
            select(func.max(LedgerEntry.created_at)).where(LedgerEntry.account_id == account_id)
        )
    assert posted_at is not None
    day = local_day(posted_at, ZONE)  # the postings are made now: their month
    statement = account_statement(db, number, Period.month(day.year, day.month))
    lines = {(u.utility, u.period, u.tier): u for u in statement.usage}
    assert {key: line.unit_price for key, line in lines.items()} == {
        (Utility.ELECTRICITY, "peak", None): Decimal("0.88"),
        (Utility.ELECTRICITY, "flat", None): Decimal("0.55"),
        (Utility.WATER, None, 1): Decimal("3.5"),
        (Utility.WATER, None, 2): Decimal("5.25"),
        (Utility.WATER, None, 3): Decimal("9"),
    }
    water = [lines[(Utility.WATER, None, step)] for step in (1, 2, 3)]
    assert [w.quantity for w in water] == [6, 6, Decimal("1.75")]
    assert [w.amount_minor for w in water] == [2100, 3150, 1575]
    for line in statement.usage:  # each line its quantity at its price, to a minor unit
        assert line.unit_price is not None
        assert abs(line.amount_minor - line.quantity * line.unit_price * 100) <= 1
    assert statement.usage_detailed_minor + statement.usage_undetailed_minor == (
        -statement.usage_billed_minor
    )
    adds_up(statement)
