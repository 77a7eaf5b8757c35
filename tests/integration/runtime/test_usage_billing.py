"""Live rating in the engine: readings priced by the account's tariff, posted per account,
the same after a crash, at once when a credit region is crossed; fees once per cycle."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.billing.money import round_to_minor
from app.billing.rating import quote_versions
from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.runtime.runtime import Runtime, RuntimeOptions
from app.runtime.tariff_book import TariffBook
from app.services.ledger import post_entry
from app.services.ledger_verify import verify_ledger
from app.services.meter_replacement import replace_meter
from app.store.database import Database
from app.store.field_lock import SoleLocks
from app.store.models import (
    Account,
    AccountTariff,
    ChargeDay,
    IntervalReading,
    LedgerEntry,
    Meter,
    RatingState,
    UsageCharge,
)
from app.vocabulary import LedgerKind, SupplyState, Utility

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)  # a Tuesday morning
STEP = timedelta(minutes=15)
D22 = Decimal("0.22")


@dataclass(frozen=True)
class Room:
    account_id: int
    electricity: int  # meter ids
    water: int


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    return db


def room(db: Database, building: str) -> Room:
    """The first room of a building with a water meter: A = dormitory, B = time of use."""
    with db.session() as session:
        account = session.scalars(
            select(Account)
            .join(Meter, Meter.account_id == Account.id)
            .where(Meter.serial.startswith(f"W{building}"))
            .order_by(Account.id)
        ).first()
        assert account is not None
        meters = {
            m.utility: m.id
            for m in session.scalars(select(Meter).where(Meter.account_id == account.id))
        }
        return Room(account.id, meters[Utility.ELECTRICITY], meters[Utility.WATER])


def runtime(db: Database) -> Runtime:
    """A runtime without buses: readings go straight to its engine."""
    rt = Runtime(db, RuntimeOptions(simulate=False), locks=SoleLocks())
    rt.claim_field()  # the site's duties: fees, supply
    rt.engine.load()
    return rt


def snap(
    meter_id: int,
    at: datetime,
    *,
    kwh: float | None = None,
    m3: float | None = None,
    rates: tuple[float, float, float, float] | None = None,
) -> Snapshot:
    extra = {}
    if rates is not None:
        extra = {f"energy_rate_{n}_kwh": v for n, v in enumerate(rates, 1)}
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
        **extra,
    )  # type: ignore[arg-type]


def registers(count: int) -> list[tuple[datetime, float, float]]:
    """(time, kWh, m3) every 15 minutes: uneven usage, a little water."""
    out, kwh, m3 = [], 1000.0, 50.0
    for n in range(count):
        out.append((T0 + n * STEP, round(kwh, 3), round(m3, 3)))
        kwh += (0.1, 0.45, 0.7, 0.05)[n % 4]
        m3 += (0.0, 0.012, 0.03)[n % 3]
    return out


def feed(rt: Runtime, who: Room, readings: list[tuple[datetime, float, float]]) -> None:
    for at, kwh, m3 in readings:
        rt.engine.process([snap(who.electricity, at, kwh=kwh), snap(who.water, at, m3=m3)])


def posted_usage(db: Database, account_id: int) -> int:
    with db.session() as session:
        return -int(
            session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                    LedgerEntry.account_id == account_id,
                    LedgerEntry.kind == LedgerKind.CONSUMPTION,
                    LedgerEntry.reason.startswith("usage:"),
                )
            )
            or 0
        )


def expected(db: Database, who: Room, readings: list[tuple[datetime, float, float]]) -> int:
    """What a quote of the same usage under the account's plans costs, rounded per meter
    (fees are charged per cycle by themselves)."""
    book = TariffBook()
    total = 0
    with db.session() as session:
        book.refresh(session)
        plans = dict(
            session.execute(
                select(AccountTariff.utility, AccountTariff.plan_id).where(
                    AccountTariff.account_id == who.account_id
                )
            ).all()
        )
    for utility, column in ((Utility.ELECTRICITY, 1), (Utility.WATER, 2)):
        rows = []
        for before, after in pairwise(readings):
            used = Decimal(round(after[column] * 1000) - round(before[column] * 1000)).scaleb(-3)
            if used:
                local = [t.astimezone(ZONE).replace(tzinfo=None) for t in (before[0], after[0])]
                rows.append((local[0], local[1], used))
        lines = quote_versions(book.schedules[plans[utility]], rows).lines
        exact = sum((line.exact_amount for line in lines if line.kind != "fee"), Decimal(0))
        total += round_to_minor(exact, "CNY")
    return total


def test_usage_is_posted_per_account_as_a_quote_of_it_prices_it(site: Database) -> None:
    who = room(site, "B")  # time of use electricity, tiered water
    readings = registers(24)
    rt = runtime(site)
    feed(rt, who, readings)
    assert posted_usage(site, who.account_id) == 0  # waiting for the hour
    with site.transaction() as session:
        rt.billing.post(session)
    assert posted_usage(site, who.account_id) == expected(site, who, readings) > 0
    with site.session() as session:
        entries = session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.account_id == who.account_id, LedgerEntry.reason.startswith("usage:")
            )
        ).all()
        assert len(entries) == 1  # electricity and water of the room: one posting, one balance
        assert "electricity" in entries[0].reason
        assert "water" in entries[0].reason
        charges = session.scalars(
            select(UsageCharge).where(UsageCharge.account_id == who.account_id)
        ).all()
        assert {c.meter_id for c in charges} == {who.electricity, who.water}
        assert sum(c.amount_minor or 0 for c in charges) == -entries[0].amount_minor
        assert session.scalar(select(func.count()).select_from(RatingState)) >= 2
    assert verify_ledger(site).ok


def test_a_crash_before_posting_loses_nothing_and_bills_nothing_twice(site: Database) -> None:
    who = room(site, "B")
    readings = registers(30)
    first = runtime(site)
    feed(first, who, readings[:10])
    with site.transaction() as session:
        first.billing.post(session)  # the hour struck: these are posted
    feed(first, who, readings[10:20])  # rated, waiting... and the process dies here
    del first
    second = runtime(site)  # rates readings 10..19 again from the saved state
    feed(second, who, readings[20:])
    with site.transaction() as session:
        second.billing.post(session)
    assert posted_usage(site, who.account_id) == expected(site, who, readings)
    third = runtime(site)  # a restart after posting: nothing to rate again
    with site.transaction() as session:
        third.billing.post(session)
    assert posted_usage(site, who.account_id) == expected(site, who, readings)
    assert verify_ledger(site).ok


def test_crossing_into_a_warning_posts_at_once_and_warns(site: Database) -> None:
    who = room(site, "B")  # staff policy: alarm 1 at 50.00
    with site.transaction() as session:
        account = session.get(Account, who.account_id)
        assert account is not None
        post_entry(
            session,
            who.account_id,
            LedgerKind.ADJUSTMENT,
            5010 - account.balance_minor,
            reason="test: 50.10 left",
        )
    rt = runtime(site)
    with site.transaction() as session:
        rt.control.evaluate(session, [who.account_id])
    feed(rt, who, registers(3))  # about 0.5 kWh at peak: 0.44
    assert posted_usage(site, who.account_id) > 0  # posted without waiting for the hour
    with site.session() as session:
        account = session.get(Account, who.account_id)
        assert account is not None
        assert account.balance_minor < 5000
        assert account.supply_state is SupplyState.ALARM_1


def test_a_register_that_goes_backwards_is_held_and_not_billed(site: Database) -> None:
    who = room(site, "B")
    rt = runtime(site)
    rt.engine.process([snap(who.electricity, T0, kwh=1000.0)])
    rt.engine.process([snap(who.electricity, T0 + STEP, kwh=900.0)])  # held
    rt.engine.process([snap(who.electricity, T0 + 2 * STEP, kwh=1000.5)])
    with site.transaction() as session:
        rt.billing.post(session)
        quantities = session.scalars(
            select(UsageCharge.quantity).where(UsageCharge.meter_id == who.electricity)
        ).all()
    assert quantities == ["0.5"]  # from the last good reading, the held one skipped


def test_per_rate_registers_price_each_period_as_the_meter_counted(site: Database) -> None:
    who = room(site, "B")  # peak 0.88, flat 0.55, valley 0.22
    rt = runtime(site)
    # 09:00-09:15 local is peak by the tariff, but the meter counted 1 kWh valley, 1 kWh peak.
    rt.engine.process([snap(who.electricity, T0, kwh=1000.0, rates=(0, 400.0, 300.0, 300.0))])
    rt.engine.process(
        [snap(who.electricity, T0 + STEP, kwh=1002.0, rates=(0, 401.0, 300.0, 301.0))]
    )
    with site.transaction() as session:
        rt.billing.post(session)
        exact = session.execute(
            select(UsageCharge.period, UsageCharge.amount_exact).where(
                UsageCharge.meter_id == who.electricity
            )
        ).all()
    assert {(p, Decimal(e)) for p, e in exact} == {("peak", Decimal("0.88")), ("valley", D22)}


def test_fees_are_charged_once_per_cycle_across_restarts(site: Database) -> None:
    who = room(site, "B")  # the time-of-use tariff has a monthly 5.00 meter fee

    def fees() -> list[LedgerEntry]:
        with site.session() as session:
            return list(
                session.scalars(
                    select(LedgerEntry).where(
                        LedgerEntry.account_id == who.account_id, LedgerEntry.kind == LedgerKind.FEE
                    )
                )
            )

    rt = runtime(site)
    rt.engine.process([], tick=True)
    rt.engine.process([], tick=True)
    assert [e.amount_minor for e in fees()] == [-500]
    runtime(site).engine.process([], tick=True)
    assert len(fees()) == 1
    dorm = room(site, "A")  # the dormitory tariff has no fee
    with site.session() as session:
        assert not session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.account_id == dorm.account_id, LedgerEntry.kind == LedgerKind.FEE
            )
        ).all()
    assert verify_ledger(site).ok


def test_a_meter_without_an_open_account_is_not_billed(site: Database) -> None:
    who = room(site, "A")
    with site.transaction() as session:
        meter = session.get(Meter, who.electricity)
        assert meter is not None
        meter.account_id = None
    rt = runtime(site)
    feed(rt, who, registers(5))
    with site.transaction() as session:
        rt.billing.post(session)
        billed = session.scalars(
            select(UsageCharge.meter_id).where(UsageCharge.account_id == who.account_id)
        ).all()
    assert who.electricity not in billed


def test_a_meter_replaced_while_running_bills_up_to_the_swap_then_the_new_one(
    site: Database,
) -> None:
    who = room(site, "B")
    rt = runtime(site)
    rt.engine.process([snap(who.electricity, T0, kwh=1000.0)])
    rt.engine.process([snap(who.electricity, T0 + STEP, kwh=1000.5)])
    swap = T0 + STEP + timedelta(minutes=5)
    with site.transaction() as session:
        done = replace_meter(
            session,
            who.electricity,
            final_reading=Decimal("1000.7"),
            new_serial="EB-NEW",
            new_address="200",
            initial_reading=Decimal("0.2"),
            at=swap,
        )
    rt.engine.process([], tick=True)  # the engine takes up the swap
    rt.engine.process([snap(who.electricity, T0 + 2 * STEP, kwh=1000.9)])  # old one, still polled
    rt.engine.process([snap(done.new_meter_id, T0 + 2 * STEP, kwh=0.5)])
    with site.transaction() as session:
        rt.billing.post(session)
        charged = session.execute(
            select(UsageCharge.meter_id, UsageCharge.quantity, UsageCharge.end_at)
            .where(UsageCharge.account_id == who.account_id)
            .order_by(UsageCharge.meter_id)
        ).all()
        old = session.get(Meter, who.electricity)
        assert old is not None
        assert old.status.value == "removed"  # polling it did not bring it back
    assert [(m, q) for m, q, _ in charged] == [(who.electricity, "0.7"), (done.new_meter_id, "0.3")]
    assert charged[0][2] == swap
    assert verify_ledger(site).ok


def test_rate_registers_stored_and_read_back_after_a_restart_price_the_same(
    site: Database,
) -> None:
    who = room(site, "B")
    first = runtime(site)
    first.engine.process([snap(who.electricity, T0, kwh=1000.0, rates=(0, 400.0, 300.0, 300.0))])
    first.engine.process(
        [snap(who.electricity, T0 + STEP, kwh=1002.0, rates=(0, 401.0, 300.0, 301.0))]
    )
    del first  # nothing posted: the restart rates the stored readings again
    second = runtime(site)
    with site.transaction() as session:
        second.billing.post(session)
        exact = session.execute(
            select(UsageCharge.period, UsageCharge.amount_exact).where(
                UsageCharge.meter_id == who.electricity
            )
        ).all()
        stored = session.scalars(select(IntervalReading.rate_registers)).all()
    assert {(p, Decimal(e)) for p, e in exact} == {("peak", Decimal("0.88")), ("valley", D22)}
    assert [0, 401000, 300000, 301000] in stored


def test_a_first_and_a_second_reading_in_one_batch_survive_a_crash(site: Database) -> None:
    who = room(site, "B")
    first = runtime(site)
    first.engine.process(
        [snap(who.electricity, T0, kwh=1000.0), snap(who.electricity, T0 + STEP, kwh=1000.4)]
    )
    del first  # rated, not posted: the process dies
    second = runtime(site)
    with site.transaction() as session:
        second.billing.post(session)
        quantities = session.scalars(
            select(UsageCharge.quantity).where(UsageCharge.meter_id == who.electricity)
        ).all()
    assert quantities == ["0.4"]


def charges_of(db: Database, account_id: int) -> list[UsageCharge]:
    with db.session() as session:
        return list(
            session.scalars(
                select(UsageCharge)
                .where(UsageCharge.account_id == account_id)
                .order_by(UsageCharge.id)
            )
        )


def sums_by(
    charges: list[UsageCharge],
) -> dict[tuple[int, str, str | None, int | None], tuple[Decimal, int]]:
    """Quantity and minor units charged per meter, kind, TOU period and tier."""
    out: dict[tuple[int, str, str | None, int | None], tuple[Decimal, int]] = {}
    for c in charges:
        quantity, amount = out.get((c.meter_id, c.kind, c.period, c.tier), (Decimal(0), 0))
        out[(c.meter_id, c.kind, c.period, c.tier)] = (
            quantity + Decimal(c.quantity),
            amount + (c.amount_minor or 0),
        )
    return {key: value for key, value in out.items() if any(value)}


def charge_days(db: Database, account_id: int) -> dict[tuple[int, str, int], tuple[int, int]]:
    """charge_day summed over the days: per meter, period and tier, (units, minor units)."""
    with db.session() as session:
        rows = session.execute(
            select(
                ChargeDay.meter_id,
                ChargeDay.period,
                ChargeDay.tier,
                func.sum(ChargeDay.units),
                func.sum(ChargeDay.amount_minor),
            )
            .where(ChargeDay.account_id == account_id)
            .group_by(ChargeDay.meter_id, ChargeDay.period, ChargeDay.tier)
        ).all()
    return {(m, p, t): (int(u), int(a)) for m, p, t, u, a in rows if u or a}


def test_each_tou_period_and_tier_is_a_charge_at_its_price_adding_up_to_the_entry(
    site: Database,
) -> None:
    who = room(site, "B")  # peak 0.88 to 11:00, then flat 0.55; water 3.50 / 5.25 / 9.00
    readings, kwh, m3 = [], 1000.0, 50.0
    for n in range(12):  # 09:00 to 11:45 local: peak, then flat; water through all 3 tiers
        readings.append((T0 + n * STEP, round(kwh, 3), round(m3, 3)))
        kwh += 0.37
        m3 += 1.25
    rt = runtime(site)
    feed(rt, who, readings)
    with site.transaction() as session:
        rt.billing.post(session)
        entries = dict(
            session.execute(
                select(LedgerEntry.id, LedgerEntry.amount_minor).where(
                    LedgerEntry.account_id == who.account_id,
                    LedgerEntry.reason.startswith("usage:"),
                )
            ).all()
        )
    charges = charges_of(site, who.account_id)
    assert entries  # (posted early too when the water took the balance below a warning)
    assert sum(c.amount_minor or 0 for c in charges) == -sum(entries.values())
    prices = {(c.meter_id, c.period, c.tier): c.unit_price for c in charges}
    assert prices == {
        (who.electricity, "peak", None): "0.88",
        (who.electricity, "flat", None): "0.55",
        (who.water, None, 1): "3.5",
        (who.water, None, 2): "5.25",
        (who.water, None, 3): "9",
    }
    for c in charges:
        assert Decimal(c.quantity) * Decimal(c.unit_price) == Decimal(c.amount_exact)
        assert c.ledger_entry_id in entries
    # the same usage quoted: a line per period and tier with the same quantity
    got = sums_by(charges)
    for utility, meter in ((Utility.ELECTRICITY, who.electricity), (Utility.WATER, who.water)):
        with site.session() as session:
            plan = session.scalar(
                select(AccountTariff.plan_id).where(
                    AccountTariff.account_id == who.account_id, AccountTariff.utility == utility
                )
            )
            book = TariffBook()
            book.refresh(session)
        assert plan is not None
        column = 1 if utility is Utility.ELECTRICITY else 2
        rows = [
            (
                a[0].astimezone(ZONE).replace(tzinfo=None),
                b[0].astimezone(ZONE).replace(tzinfo=None),
                Decimal(round(b[column] * 1000) - round(a[column] * 1000)).scaleb(-3),
            )
            for a, b in pairwise(readings)
        ]
        lines = quote_versions(book.schedules[plan], rows).lines
        assert {
            (line.period, line.tier): line.quantity for line in lines if line.kind == "energy"
        } == {(p, t): q for (m, _k, p, t), (q, _a) in got.items() if m == meter}
    # the daily rollup: the same money per period and tier, the units (Wh, litres) whole: the
    # reading across 11:00 shares its watt-hours between peak and flat by largest remainder
    days = charge_days(site, who.account_id)
    assert {key: a for key, (_u, a) in days.items()} == {
        (m, p or "", t or 0): a for (m, _k, p, t), (_q, a) in got.items()
    }
    for (m, _k, p, t), (q, _a) in got.items():
        assert abs(days[(m, p or "", t or 0)][0] - q * 1000) < 1
    for meter, column in ((who.electricity, 1), (who.water, 2)):
        used = round(readings[-1][column] * 1000) - round(readings[0][column] * 1000)
        assert sum(u for (m, _p, _t), (u, _a) in days.items() if m == meter) == used
    assert verify_ledger(site).ok


def test_free_allowance_units_are_a_charge_of_their_own_at_no_price(site: Database) -> None:
    who = room(site, "A")  # dormitory: 15 kWh free a month, then 0.58
    readings = [(T0 + n * STEP, 1000.0 + 1.25 * n, 50.0) for n in range(17)]  # 20 kWh
    rt = runtime(site)
    feed(rt, who, readings)
    with site.transaction() as session:
        rt.billing.post(session)
    got = sums_by(charges_of(site, who.account_id))
    assert got[(who.electricity, "allowance", None, None)] == (Decimal(15), 0)
    assert got[(who.electricity, "energy", None, None)] == (Decimal(5), 290)
    assert charge_days(site, who.account_id)[(who.electricity, "", 0)] == (20_000, 290)
    assert verify_ledger(site).ok


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_posting_moves_exactly_its_charges_whatever_the_usage(
    site: Database, seed: int
) -> None:
    """Random usage over two days (midnight, every TOU period, the water tiers) posted at
    random moments: each consumption entry is the sum of its charges' minor units, and the
    daily rollup holds every charge."""
    rng = random.Random(seed)
    who = room(site, "B")
    rt = runtime(site)
    kwh, m3, at = 1000.0, 50.0, T0
    for _ in range(60):
        rt.engine.process([snap(who.electricity, at, kwh=kwh), snap(who.water, at, m3=m3)])
        if rng.random() < 0.2:
            with site.transaction() as session:
                rt.billing.post(session)
        at += timedelta(minutes=rng.choice((15, 15, 30, 95, 400)))
        kwh = round(kwh + rng.choice((0.0, 0.001, 0.333, 0.9, 1.25)), 3)
        m3 = round(m3 + rng.choice((0.0, 0.001, 0.07, 0.9)), 3)
    with site.transaction() as session:
        rt.billing.post(session)
        entries = dict(
            session.execute(
                select(LedgerEntry.id, LedgerEntry.amount_minor).where(
                    LedgerEntry.account_id == who.account_id,
                    LedgerEntry.kind == LedgerKind.CONSUMPTION,
                    LedgerEntry.reason.startswith("usage:"),  # not the demo's history
                )
            ).all()
        )
    charges = charges_of(site, who.account_id)
    per_entry: dict[int, int] = {}
    for c in charges:
        if c.ledger_entry_id is not None:
            per_entry[c.ledger_entry_id] = per_entry.get(c.ledger_entry_id, 0) + (
                c.amount_minor or 0
            )
    assert per_entry == {entry_id: -amount for entry_id, amount in entries.items()}
    assert len({c.period for c in charges if c.meter_id == who.electricity}) >= 2
    days = charge_days(site, who.account_id)
    got = sums_by(charges)
    assert sum(a for _u, a in days.values()) == sum(a for _q, a in got.values())
    assert sum(u for u, _a in days.values()) == 1000 * sum(q for q, _a in got.values())
    assert verify_ledger(site).ok


def test_ledger_verify_finds_a_charge_day_that_disagrees_with_the_charges(site: Database) -> None:
    who = room(site, "B")
    rt = runtime(site)
    feed(rt, who, registers(8))
    with site.transaction() as session:
        rt.billing.post(session)
    assert verify_ledger(site).ok
    with site.transaction() as session:
        row = session.scalars(
            select(ChargeDay).where(ChargeDay.meter_id == who.electricity).limit(1)
        ).one()
        row.amount_minor += 1
    problems = [p for p in verify_ledger(site).problems if p.what == "charge_day"]
    assert len(problems) == 1
    assert f"meter {who.electricity}" in problems[0].detail
