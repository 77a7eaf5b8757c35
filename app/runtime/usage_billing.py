"""Live rating and consumption postings: the engine's step after storing readings.

Each GOOD interval reading is priced for the usage since the meter's previous one, over that
span of site-local time, by the tariff plan of the meter's account for its utility (each part
by the version in force then, split at band, tier and cycle boundaries by ``billing.rating``).
Meters with per-rate registers (sharp/peak/flat/valley) are rated from them. The rounded
charges wait in memory and are posted together, per account: at each posting time (every
``posting_s``, default hourly), at once when the waiting charge would move the account into
another credit region (a warning, a cut), and when the engine stops. A posting writes, in one
transaction, a ``UsageCharge`` per meter, billing cycle, tariff version, kind (energy or
free allowance), TOU period and tier with its unit price, one consumption ledger entry per
account (the sum of its charges), the usage per site-local day, meter, period and tier added to
``charge_day``, and each meter's ``RatingState`` (its rater's saved state and the last reading
rated).

After a crash, the readings stored since each meter's ``RatingState`` are rated again with the
saved rater: charges that were waiting are rebuilt exactly, and nothing posted is posted again.
Rating is per meter: tiers and allowance count that meter's usage.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.credit_region import CreditThresholds, credit_region
from app.billing.rating import Posting, Rater, UsageError, decimal_text
from app.runtime.account_isolation import account_skipped, each_account, error_text
from app.runtime.rater_codec import state_from_json
from app.runtime.reading_store import READING_COLUMNS, StoredReading, as_stored, latest_good
from app.runtime.supply_control import local_zone
from app.runtime.tariff_book import TariffBook
from app.runtime.usage_posting import (
    UNIT_NAME,
    BillingTotals,
    MeterBill,
    Waiting,
    add_charge_days,
    charge_row,
    local,
    mark_saved,
    posting_reason,
    posting_reference,
    save_states,
    split_units,
    write_states,
)
from app.services.ledger import NewEntry, post_entries
from app.services.policy_setup import thresholds_of
from app.store.bulk_rows import insert_rows
from app.store.models import (
    Account,
    AccountTariff,
    Alarm,
    BalancePolicy,
    IntervalReading,
    Meter,
    RatingState,
    Site,
    UsageCharge,
)
from app.vocabulary import (
    DEFAULT_CURRENCY,
    DEFAULT_TIMEZONE,
    AccountStatus,
    AlarmKind,
    AlarmSeverity,
    LedgerKind,
    ReadingQuality,
    SupplyState,
)

log = logging.getLogger(__name__)

DEFAULT_POSTING_S = 3600
# DL/T 645 and the Modbus prepaid meters number their rate registers 1..4 = sharp, peak, flat,
# valley (尖峰平谷); a tariff's TOU periods use the same names.
RATE_PERIODS = {"rate_1": "sharp", "rate_2": "peak", "rate_3": "flat", "rate_4": "valley"}


class UsageBilling:
    def __init__(self, *, posting_s: float = DEFAULT_POSTING_S) -> None:
        self.posting_s = posting_s
        self.book = TariffBook()
        self.bills: dict[int, MeterBill] = {}
        self.zone = ZoneInfo(DEFAULT_TIMEZONE)
        self.currency = DEFAULT_CURRENCY
        self.totals = BillingTotals()
        self._next_posting: float | None = None
        self._limits: dict[int, CreditThresholds] = {}  # policy id -> thresholds

    # -- loading ---------------------------------------------------------------------------

    def load(self, session: Session) -> None:
        """Meters, their accounts and plans, the saved rating states; then rate the readings
        stored since each state (they were priced before a crash but not posted)."""
        self.zone = local_zone(session)
        self.currency = session.scalar(select(Site.currency).limit(1)) or self.currency
        self.book.refresh(session)
        self._load_policies(session)
        for meter_id, utility, multiplier in session.execute(
            select(Meter.id, Meter.utility, Meter.multiplier)
        ):
            self.bills[meter_id] = MeterBill(meter_id, utility, multiplier or 1)
        saved = {row.meter_id: row for row in session.scalars(select(RatingState))}
        for bill in self.bills.values():
            row = saved.get(bill.meter_id)
            if row is not None:
                bill.saved = True
                bill.last_units, bill.last_at, bill.last_rates = (
                    row.last_units,
                    row.last_read_at,
                    row.last_rates,
                )
                bill.plan_id = row.plan_id
                if row.rater is not None and row.plan_id in self.book.schedules:
                    bill.rater = Rater.resume(
                        self.book.schedules[row.plan_id], state_from_json(row.rater)
                    )
        self._assign(session)
        self._baselines(session, [b for b in self.bills.values() if not b.saved])
        catch_up = session.execute(
            select(*READING_COLUMNS)
            .join(RatingState, RatingState.meter_id == IntervalReading.meter_id)
            .where(
                IntervalReading.read_at > RatingState.last_read_at,
                IntervalReading.quality == ReadingQuality.GOOD,
            )
            .order_by(IntervalReading.meter_id, IntervalReading.read_at)
        ).all()
        if catch_up:
            log.info("rating %d readings stored since the last posting", len(catch_up))
            self.rate(session, as_stored(catch_up))

    def _load_policies(self, session: Session) -> None:
        self._limits = {
            policy.id: thresholds_of(policy) for policy in session.scalars(select(BalancePolicy))
        }

    def _baselines(self, session: Session, bills: list[MeterBill]) -> None:
        """Meters never rated start from their latest GOOD reading (earlier ones predate
        billing); a state row is written at once, so usage after it is never lost."""
        if not bills:
            return
        wanted = {bill.meter_id: bill for bill in bills}
        for reading in latest_good(session):
            bill = wanted.get(reading.meter_id)
            if bill is not None:
                self._move_to(bill, reading)
        save_states(session, [b for b in bills if b.last_at is not None])

    def _assign(self, session: Session) -> list[MeterBill]:
        """Each meter's account (open ones only) and the plan billing its utility; a meter
        whose account or plan changed posts what waits and starts a new rater. Returns the
        meters that changed."""
        wanted: dict[int, tuple[int | None, int | None]] = dict.fromkeys(self.bills, (None, None))
        for meter, owner, plan in session.execute(
            select(Meter.id, Account.id, AccountTariff.plan_id)
            .join(Account, Account.id == Meter.account_id)
            .outerjoin(
                AccountTariff,
                (AccountTariff.account_id == Account.id) & (AccountTariff.utility == Meter.utility),
            )
            .where(Account.status == AccountStatus.OPEN)
        ):
            wanted[meter] = (owner, plan)
        changed = []
        for meter_id, (account_id, assigned) in wanted.items():
            bill = self.bills.get(meter_id)
            if bill is None:
                continue
            # a plan that cannot price (logged by the book): the usage is not billed
            plan_id = assigned if assigned in self.book.schedules else None
            if (bill.account_id, bill.plan_id) == (account_id, plan_id) and (
                bill.rater is not None or plan_id is None
            ):
                continue
            if bill.account_id != account_id and bill.waiting:
                changed.append(bill)  # post to the old account before moving on
                continue
            self._set_plan(bill, account_id, plan_id)
        return changed

    def _set_plan(self, bill: MeterBill, account_id: int | None, plan_id: int | None) -> None:
        same_plan = plan_id is not None and plan_id == bill.plan_id and bill.rater is not None
        bill.account_id = account_id
        if not same_plan:
            bill.plan_id = plan_id
            bill.rater = None if plan_id is None else Rater(self.book.schedules[plan_id])
            bill.dirty = True

    def replaced(self, session: Session, added: list[int], removed: list[int]) -> None:
        """Meters swapped while running: rate each removed meter's readings up to its final
        one (written by the replacement, not by this engine), and start billing new meters
        from their initial reading."""
        if removed:
            rows = session.execute(
                select(*READING_COLUMNS)
                .where(
                    IntervalReading.meter_id.in_(removed),
                    IntervalReading.quality == ReadingQuality.GOOD,
                )
                .order_by(IntervalReading.meter_id, IntervalReading.read_at)
            )
            self.rate(session, as_stored(rows))
        fresh = []
        for meter_id, utility, multiplier in session.execute(
            select(Meter.id, Meter.utility, Meter.multiplier).where(Meter.id.in_(added))
        ):
            if meter_id not in self.bills:
                fresh.append(
                    self.bills.setdefault(meter_id, MeterBill(meter_id, utility, multiplier or 1))
                )
        self._assign(session)
        self._baselines(session, fresh)  # from the initial reading the replacement recorded

    # -- rating ----------------------------------------------------------------------------

    def _local(self, at: datetime) -> datetime:
        return local(at, self.zone)

    def rate(self, session: Session, readings: Iterable[StoredReading]) -> set[int]:
        """Price each reading's usage since the meter's previous one (readings of a meter in
        time order). Returns the accounts whose waiting charge grew."""
        touched: set[int] = set()
        first: dict[int, MeterBill] = {}  # first readings, saved together at the end
        for reading in readings:
            bill = self.bills.get(reading.meter_id)
            if bill is None:
                continue
            if bill.last_at is None or bill.last_units is None:
                self._move_to(bill, reading)  # a meter's first reading: saved in this
                first[bill.meter_id] = bill  # transaction, so usage after it is rated after a
                continue  # crash
            if reading.read_at <= bill.last_at:
                continue  # rated already (a catch-up overlapping the live stream)
            if first.pop(bill.meter_id, None) is not None:
                save_states(session, [bill])  # the baseline, before rating moves past it
            delta = reading.units - bill.last_units
            if delta <= 0 or bill.rater is None or bill.account_id is None:
                self._move_to(bill, reading)  # nothing used, or nobody to bill it to
                continue
            start, end = self._local(bill.last_at), self._local(reading.read_at)
            if end <= start:
                continue  # clocks set back (daylight saving): the next reading covers it
            quantity = Decimal(delta * bill.multiplier).scaleb(-3)
            try:
                postings = bill.rater.post(start, end, quantity, self._by_period(bill, reading))
            except UsageError as exc:
                self._unpriced(session, bill, reading, quantity, str(exc))
                self._move_to(bill, reading)
                continue
            self._wait(bill, postings, reading, delta * bill.multiplier)
            self._move_to(bill, reading)
            self.totals.rated += 1
            touched.add(bill.account_id)
        save_states(session, first.values())
        return touched

    def _move_to(self, bill: MeterBill, reading: StoredReading) -> None:
        bill.last_units, bill.last_at, bill.last_rates = (
            reading.units,
            reading.read_at,
            reading.rates,
        )
        bill.dirty = True

    def _by_period(self, bill: MeterBill, reading: StoredReading) -> dict[str, Decimal] | None:
        if not reading.rates or not bill.last_rates:
            return None
        shares: dict[str, Decimal] = {}
        for register, units in reading.rates.items():
            before = bill.last_rates.get(register)
            period = RATE_PERIODS.get(register)
            if before is None or period is None or units < before:
                return None  # a register missing or reset: share by time instead
            shares[period] = Decimal(units - before)
        return shares

    def _wait(
        self, bill: MeterBill, postings: list[Posting], reading: StoredReading, units: int
    ) -> None:
        """Keep what the reading's postings charged per billing cycle and price, and its
        ``units`` (register difference times multiplier) per day, period and tier."""
        assert bill.last_at is not None
        assert bill.plan_id is not None
        versions = self.book.schedules[bill.plan_id].versions
        ids = self.book.version_ids[bill.plan_id]
        parts = [part for posting in postings for part in posting.parts]
        for posting in postings:
            for part in posting.parts:
                key = (
                    posting.cycle,
                    ids[versions[part.version].effective_from],
                    part.kind,
                    part.period,
                    part.tier,
                )
                waiting = bill.waiting.get(key)
                if waiting is None:
                    waiting = bill.waiting[key] = Waiting(
                        bill.last_at, reading.read_at, part.unit_price
                    )
                waiting.end = reading.read_at
                waiting.quantity += part.quantity
                waiting.exact += part.exact
                waiting.amount += part.amount
        shares = split_units(units, [part.quantity for part in parts])
        for part, share in zip(parts, shares, strict=True):
            cell = bill.days.setdefault((part.day, part.period or "", part.tier or 0), [0, 0])
            cell[0] += share
            cell[1] += part.amount

    def _unpriced(
        self, session: Session, bill: MeterBill, reading: StoredReading, qty: Decimal, why: str
    ) -> None:
        self.totals.unpriced += 1
        log.error("meter %s: usage of %s not priced: %s", bill.meter_id, qty, why)
        session.add(
            Alarm(
                kind=AlarmKind.UNPRICED_USAGE,
                severity=AlarmSeverity.CRITICAL,
                meter_id=bill.meter_id,
                account_id=bill.account_id,
                raised_at=datetime.now(UTC),
                message=f"Usage of {decimal_text(qty)} {UNIT_NAME[bill.utility]} could not be "
                f"priced: {why} Import a tariff version in force at that time.",
                evidence={
                    "from": bill.last_at.isoformat() if bill.last_at else None,
                    "to": reading.read_at.isoformat(),
                    "quantity": str(qty),
                },
            )
        )

    # -- posting ---------------------------------------------------------------------------

    def crossing(self, session: Session, accounts: Iterable[int]) -> set[int]:
        """Of these accounts, those whose waiting charge would move them into another credit
        region (a warning or a cut is due): they must be posted now."""
        waiting: dict[int, int] = defaultdict(int)
        for bill in self.bills.values():
            if bill.account_id is not None and bill.waiting:
                waiting[bill.account_id] += bill.waiting_minor
        ids = sorted(a for a in accounts if waiting.get(a))
        due: set[int] = set()
        for start in range(0, len(ids), 900):
            for account_id, balance, state, policy_id in session.execute(
                select(
                    Account.id, Account.balance_minor, Account.supply_state, Account.policy_id
                ).where(Account.id.in_(ids[start : start + 900]))
            ):
                limits = self._limits.get(policy_id)
                if limits is None:
                    continue
                previous = SupplyState(state)
                now = credit_region(balance, limits, previous)
                then = credit_region(balance - waiting[account_id], limits, previous)
                if now != then:
                    due.add(account_id)
        return due

    def post(self, session: Session, accounts: Iterable[int] | None = None) -> set[int]:
        """Post what waits (for these accounts; None: all) and save the raters' states.
        Returns the accounts whose balance changed.

        Each account's part (its consumption entry, usage charges and rating states) is written
        with the others in one savepoint, or alone when that fails (``each_account``): an
        account that cannot be posted keeps its charges waiting, raises an alarm and is tried
        again at the next posting, while every other account is posted. What is kept in memory
        changes only for the accounts written."""
        if accounts is None:
            bills = [b for b in self.bills.values() if b.waiting or b.dirty]
        else:
            chosen = set(accounts)
            bills = [b for b in self.bills.values() if b.account_id in chosen]
        by_account: dict[int, list[MeterBill]] = defaultdict(list)
        for bill in bills:
            if bill.waiting and bill.account_id is not None:
                by_account[bill.account_id].append(bill)
        moved: set[int] = set()
        counts: dict[int, tuple[int, int]] = {}  # account -> (entries, charges) written

        def write(ids: Sequence[int]) -> None:
            counts.update(self._write_postings(session, {a: by_account[a] for a in ids}))

        now = datetime.now(UTC)
        failed = each_account(session, sorted(by_account), write)
        for account_id, exc in failed.items():
            self.totals.failed += 1
            account_skipped(
                session, account_id, "its usage could not be posted", error_text(exc), now
            )
        for account_id, meters in by_account.items():
            if account_id in failed:
                continue
            for bill in meters:
                bill.waiting.clear()
                bill.days.clear()
            mark_saved(meters)
            entries, charges = counts[account_id]
            self.totals.postings += entries
            self.totals.charges += charges
            if entries:
                moved.add(account_id)
        posting = {bill.meter_id for meters in by_account.values() for bill in meters}
        save_states(session, [b for b in bills if b.meter_id not in posting])
        return moved

    def _write_postings(
        self, session: Session, by_account: dict[int, list[MeterBill]]
    ) -> dict[int, tuple[int, int]]:
        """Write these accounts' postings (changing nothing in memory); returns, per account,
        how many entries (0 or 1) and usage charges were written."""
        entries: list[NewEntry] = []
        owners: list[int] = []
        for account_id, meters in by_account.items():
            amount = sum(bill.waiting_minor for bill in meters)
            if amount:
                entries.append(
                    NewEntry(
                        account_id,
                        LedgerKind.CONSUMPTION,
                        -amount,
                        reason=posting_reason(meters),
                        reference=posting_reference(meters, self.zone),
                    )
                )
                owners.append(account_id)
        entry_of = {
            account_id: posted.entry_id
            for account_id, posted in zip(owners, post_entries(session, entries), strict=True)
        }
        charges = []
        counts: dict[int, tuple[int, int]] = {}
        for account_id, meters in by_account.items():
            entry_id = entry_of.get(account_id)
            rows = [
                charge_row(bill, key, waiting, entry_id if waiting.amount else None)
                for bill in meters
                for key, waiting in bill.waiting.items()
            ]
            charges += rows
            counts[account_id] = (int(account_id in entry_of), len(rows))
        if charges:
            insert_rows(session, UsageCharge, charges)
        add_charge_days(session, [bill for meters in by_account.values() for bill in meters])
        write_states(session, [bill for meters in by_account.values() for bill in meters])
        return counts

    # -- the clock -------------------------------------------------------------------------

    def posting_due(self, now: float) -> bool:
        """True once per ``posting_s`` (on its multiples of the epoch: on the hour)."""
        slot = now // self.posting_s
        if self._next_posting is None:
            self._next_posting = (slot + 1) * self.posting_s
            return False
        if now < self._next_posting:
            return False
        self._next_posting = (slot + 1) * self.posting_s
        return True

    def refresh(self, session: Session) -> set[int]:
        """Tariff versions and account assignments changed since? Take them up; post what waits
        for meters that change account. Returns accounts posted."""
        if self.book.refresh(session):
            for bill in self.bills.values():
                if bill.rater is not None and bill.plan_id in self.book.schedules:
                    bill.rater = Rater.resume(self.book.schedules[bill.plan_id], bill.rater.state())
        self._load_policies(session)
        moving = self._assign(session)
        if not moving:
            return set()
        posted = self.post(session, {b.account_id for b in moving if b.account_id is not None})
        self._assign(session)
        return posted
