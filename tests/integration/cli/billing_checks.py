"""Checks of what a run of ``serve`` billed, on the site's database (SQLite or PostgreSQL):
every unit a meter counted charged exactly once, each periodic fee once per account and cycle,
and no alarm raised twice. Shared by the kill and the standby tests."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    Alarm,
    IntervalReading,
    LedgerEntry,
    Meter,
    RatingState,
    UsageCharge,
)
from app.vocabulary import AccountStatus, LedgerKind, ReadingQuality


def usage_problems(url: str) -> list[str]:
    """Every unit between a meter's first GOOD reading and its last rated one is charged
    once: no overlap, no usage skipped, the quantities add up exactly."""
    problems: list[str] = []
    db = Database(url)
    try:
        with db.session() as session:
            multiplier = dict(session.execute(select(Meter.id, Meter.multiplier)).all())
            good: dict[int, dict[datetime, int]] = defaultdict(dict)
            for meter_id, at, units in session.execute(
                select(
                    IntervalReading.meter_id,
                    IntervalReading.read_at,
                    IntervalReading.register_units,
                )
                .where(IntervalReading.quality == ReadingQuality.GOOD)
                .order_by(IntervalReading.meter_id, IntervalReading.read_at)
            ):
                good[meter_id][at] = units
            states = {row.meter_id: row for row in session.scalars(select(RatingState))}
            charges: dict[int, list[UsageCharge]] = defaultdict(list)
            for charge in session.scalars(
                select(UsageCharge).order_by(UsageCharge.start_at, UsageCharge.id)
            ):
                charges[charge.meter_id].append(charge)
            posted_in = set(
                session.scalars(
                    select(UsageCharge.ledger_entry_id).where(
                        UsageCharge.ledger_entry_id.is_not(None)
                    )
                )
            )
            usage_entries = set(
                session.scalars(
                    select(LedgerEntry.id).where(
                        LedgerEntry.kind == LedgerKind.CONSUMPTION,
                        LedgerEntry.reason.startswith("usage:"),
                    )
                )
            )
    finally:
        db.dispose()

    charged_total = Decimal(0)
    for meter_id, readings in good.items():
        state = states.get(meter_id)
        if state is None:
            problems.append(f"meter {meter_id} has readings but no rating state")
            continue
        if readings.get(state.last_read_at) != state.last_units:
            problems.append(
                f"meter {meter_id}: rating state {state.last_units} at {state.last_read_at} "
                "is not one of its GOOD readings"
            )
            continue
        if state.last_read_at != max(readings):
            problems.append(
                f"meter {meter_id}: after a clean stop the last reading rated is "
                f"{state.last_read_at}, but a GOOD reading at {max(readings)} was stored"
            )
        scale = multiplier[meter_id] or 1
        first_units = readings[min(readings)]

        def kwh(units: int, scale: int = scale) -> Decimal:
            return Decimal(units * scale).scaleb(-3)  # Wh or litres -> kWh or m3, as rated

        mine = charges.pop(meter_id, [])
        charged = sum((Decimal(c.quantity) for c in mine), Decimal(0))
        charged_total += charged
        due = kwh(state.last_units - first_units)
        if charged != due:
            problems.append(
                f"meter {meter_id}: charged {charged} but the register moved {due} from its "
                f"first reading ({first_units}) to the last one rated ({state.last_units})"
            )
        by_cycle: dict[object, list[UsageCharge]] = defaultdict(list)
        for charge in mine:
            by_cycle[charge.cycle_start].append(charge)
        for cycle, rows in by_cycle.items():
            previous: UsageCharge | None = None
            for charge in rows:
                where = f"meter {meter_id}, cycle {cycle}, charge {charge.id}"
                if charge.start_at not in readings or charge.end_at not in readings:
                    problems.append(f"{where}: starts or ends off a GOOD reading")
                    continue
                if not charge.start_at < charge.end_at <= state.last_read_at:
                    problems.append(f"{where}: spans {charge.start_at} to {charge.end_at}")
                if len(by_cycle) == 1:  # (a span across cycles is split between them)
                    used = kwh(readings[charge.end_at] - readings[charge.start_at])
                    if Decimal(charge.quantity) != used:
                        problems.append(f"{where}: quantity {charge.quantity}, register {used}")
                if previous is not None:
                    if charge.start_at < previous.end_at:
                        problems.append(
                            f"{where}: starts at {charge.start_at}, before charge "
                            f"{previous.id} ends ({previous.end_at}): billed twice"
                        )
                    elif readings[charge.start_at] != readings[previous.end_at]:
                        problems.append(
                            f"{where}: usage between {previous.end_at} and "
                            f"{charge.start_at} was never charged"
                        )
                previous = charge
    for meter_id in charges:
        problems.append(f"meter {meter_id} has usage charges but no GOOD readings")
    if charged_total <= 0:
        problems.append("no usage was charged at all: the test exercised nothing")

    if usage_entries != posted_in:
        problems.append(
            f"usage postings without charges: {sorted(usage_entries - posted_in)}; "
            f"charges posted in other entries: {sorted(posted_in - usage_entries)}"
        )
    return problems


def fee_problems(url: str) -> list[str]:
    """Each fee once per account, plan, fee and cycle; every account on a plan with a fee
    charged in every cycle seen."""
    problems: list[str] = []
    db = Database(url)
    try:
        with db.session() as session:
            fees = session.execute(
                select(
                    LedgerEntry.id,
                    LedgerEntry.account_id,
                    LedgerEntry.amount_minor,
                    LedgerEntry.idempotency_key,
                ).where(LedgerEntry.kind == LedgerKind.FEE)
            ).all()
            plans_of: dict[int, set[int]] = defaultdict(set)
            for account_id, plan_id in session.execute(
                select(AccountTariff.account_id, AccountTariff.plan_id)
                .join(Account, Account.id == AccountTariff.account_id)
                .where(Account.status == AccountStatus.OPEN)
            ):
                plans_of[account_id].add(plan_id)
    finally:
        db.dispose()
    if not fees:
        return ["no periodic fee was charged: the time-of-use plan has a monthly fee"]
    keys: dict[str, int] = {}
    charged: dict[int, set[tuple[int, int, str]]] = defaultdict(set)
    for entry_id, account_id, amount, key in fees:
        if key is None:
            problems.append(f"fee entry {entry_id} has no idempotency key")
            continue
        if key in keys:
            problems.append(f"fee {key} charged twice: entries {keys[key]} and {entry_id}")
        keys[key] = entry_id
        _fee, account, plan, number, cycle = key.split(":")
        if int(account) != account_id:
            problems.append(f"fee entry {entry_id} of account {account_id} has key {key}")
        if amount >= 0:
            problems.append(f"fee entry {entry_id} credits {amount}")
        charged[account_id].add((int(plan), int(number), cycle))
    due = {item for items in charged.values() for item in items}  # (plan, fee, cycle)
    for account_id, plans in plans_of.items():
        expected = {item for item in due if item[0] in plans}
        if charged.get(account_id, set()) != expected:
            problems.append(
                f"account {account_id}: fees {sorted(charged.get(account_id, set()))}, "
                f"expected {sorted(expected)}"
            )
    return problems


def alarm_problems(url: str) -> list[str]:
    """No alarm raised twice: of one kind, meter and account, a new alarm is raised only after
    the one before was cleared."""
    problems: list[str] = []
    db = Database(url)
    try:
        with db.session() as session:
            rows = session.execute(
                select(
                    Alarm.id,
                    Alarm.kind,
                    Alarm.meter_id,
                    Alarm.account_id,
                    Alarm.raised_at,
                    Alarm.cleared_at,
                ).order_by(Alarm.raised_at, Alarm.id)
            ).all()
    finally:
        db.dispose()
    open_since: dict[tuple[str, int | None, int | None], tuple[int, datetime | None]] = {}
    for alarm_id, kind, meter_id, account_id, raised_at, cleared_at in rows:
        key = (kind, meter_id, account_id)
        before = open_since.get(key)
        if before is not None and (before[1] is None or before[1] > raised_at):
            problems.append(
                f"alarm {alarm_id} ({kind}, meter {meter_id}, account {account_id}) raised while "
                f"alarm {before[0]} was still open: raised twice"
            )
        open_since[key] = (alarm_id, cleared_at)
    return problems
