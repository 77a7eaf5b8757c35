"""``ledger verify``: prove the money invariants hold, and name what is wrong when they do not.

Checked:
- every account's cached balance equals the sum of its entries;
- every entry's ``balance_after`` equals the running sum of the account's entries up to it;
- the daily rollup the reports read (``ledger_day``) counts and sums every entry on its
  site-local day, account and kind, no more and no less;
- a reversal names an earlier entry of the same account, undoes exactly its amount, and only once;
- receipt numbers run 1..N with no gap and no duplicate, and each receipt agrees with its entry;
- consumption entries agree with the usage charges posted in them: each entry moves exactly the
  sum of its charges' posted minor units, and in each billing cycle of each meter the posted
  minor units add up to the cycle's exact charge rounded (the rounding residue was carried, never
  lost nor charged twice);
- the usage billed per day (``charge_day``, which the energy report's TOU periods and tiers
  read) adds up, per meter, account, period and tier, to the minor units of the usage charges
  (of the meters and accounts it holds: charges written around the engine, by hand or by a
  tool, have none);
- the audit trail is numbered without gaps and its hash chain is whole (no event edited,
  removed or slipped in); from the key's start its hashes are keyed MACs and its head is
  sealed, so it cannot be written again without the data folder's key (app/services/audit.py);
- every receipt, person-made entry, operator, setting, tariff version and meter reading agrees
  with the trail (app/services/audit_crosscheck.py);
- each anchor given (``N:HEX``, printed on a receipt or shift report, written with a backup) is
  still event N of the chain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.money import round_to_minor
from app.queries.site_facts import site_currency, site_zone
from app.services.audit import anchor_of, verify_audit
from app.services.audit_crosscheck import AuditedFacts, cross_check
from app.services.ledger_days import day_of
from app.store.database import Database
from app.store.models import (
    Account,
    AuditEvent,
    ChargeDay,
    LedgerDay,
    LedgerEntry,
    Receipt,
    UsageCharge,
)


@dataclass(frozen=True)
class Problem:
    what: str  # short key: balance, running_balance, reversal, receipt_gap, usage...
    detail: str  # a sentence naming the account, entry or receipt

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    accounts: int
    entries: int
    receipts: int
    problems: tuple[Problem, ...]
    audit_events: int = 0
    head: str = "0:"  # the chain's anchor now (``N:HEX``)
    sealed_from: int | None = None  # the first event keyed with the site's audit key
    started_at: int | None = None  # the trail's start (census); None: rows not cross-checked

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Check:
    problems: list[Problem] = field(default_factory=list)

    def fail(self, what: str, detail: str) -> None:
        self.problems.append(Problem(what, detail))


@dataclass(frozen=True)
class Anchor:
    """A head printed outside the database: event ``number`` began with hash ``prefix``."""

    number: int
    prefix: str

    def __str__(self) -> str:
        return f"{self.number}:{self.prefix}"


def verify_ledger(db: Database, anchors: Sequence[Anchor] = ()) -> VerifyReport:
    check = _Check()
    with db.session() as session:
        currency = site_currency(session)
        cached = dict(session.execute(select(Account.id, Account.balance_minor)).all())
        numbers = dict(session.execute(select(Account.id, Account.number)).all())
        zone = site_zone(session) or ZoneInfo("UTC")
        days: dict[tuple[date, int, str], list[int]] = defaultdict(lambda: [0, 0])
        amounts = _check_entries(session, numbers, check, days, zone)
        _check_days(session, numbers, days, check)
        running: dict[int, int] = defaultdict(int)
        for account_id, amount in amounts.values():
            running[account_id] += amount
        for account_id, balance in cached.items():
            if balance != running[account_id]:
                check.fail(
                    "balance",
                    f"account {numbers[account_id]} shows a balance of "
                    f"{balance} but its entries sum to {running[account_id]} (minor units)",
                )
        receipts = _check_receipts(session, amounts, check)
        _check_usage(session, currency, check)
        _check_charge_days(session, numbers, check)
        facts = AuditedFacts()
        walk = verify_audit(session, facts.visit)
        for problem in walk.problems:
            check.fail("audit", problem.detail)
        if walk.census is not None:
            cross_check(session, facts, walk.census, check.fail)
        _check_anchors(session, anchors, check)
    return VerifyReport(
        len(cached),
        len(amounts),
        receipts,
        tuple(check.problems),
        walk.events,
        anchor_of(*walk.head) if walk.events else "0:",
        walk.sealed_from,
        walk.started_at,
    )


def _check_anchors(session: Session, anchors: Sequence[Anchor], check: _Check) -> None:
    """Each anchor names an event that is still in the chain with the hash printed."""
    for anchor in anchors:
        found = session.scalar(select(AuditEvent.entry_hash).where(AuditEvent.id == anchor.number))
        if found is None:
            check.fail(
                "anchor",
                f"anchor {anchor} names audit event {anchor.number}, which is no longer in the "
                "trail: events were removed",
            )
        elif not found.startswith(anchor.prefix.lower()):
            check.fail(
                "anchor",
                f"anchor {anchor} does not match audit event {anchor.number} "
                f"({anchor_of(anchor.number, found)}): the trail was written again",
            )


def _check_entries(
    session: Session,
    numbers: dict[int, str],
    check: _Check,
    days: dict[tuple[date, int, str], list[int]],
    zone: ZoneInfo,
) -> dict[int, tuple[int, int]]:
    """Running balances and reversals; returns entry id -> (account id, amount) and adds each
    entry to ``days`` (its site-local day, account and kind: count and sum)."""
    running: dict[int, int] = defaultdict(int)
    amounts: dict[int, tuple[int, int]] = {}
    reversed_once: set[int] = set()
    rows = session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.account_id,
            LedgerEntry.amount_minor,
            LedgerEntry.balance_after_minor,
            LedgerEntry.reverses_id,
            LedgerEntry.kind,
            LedgerEntry.created_at,
        )
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=5000)
    )
    for entry_id, account_id, amount, after, reverses, kind, created_at in rows:
        day = days[(day_of(created_at, zone), account_id, str(kind))]
        day[0] += 1
        day[1] += amount
        running[account_id] += amount
        amounts[entry_id] = (account_id, amount)
        if after != running[account_id]:
            check.fail(
                "running_balance",
                f"entry {entry_id} of account "
                f"{numbers.get(account_id)} says the balance after it is {after}, but "
                f"its entries sum to {running[account_id]}",
            )
        if reverses is None:
            continue
        target = amounts.get(reverses)
        if target is None or target[0] != account_id or target[1] != -amount:
            check.fail(
                "reversal",
                f"entry {entry_id} reverses entry {reverses}, which is not "
                "an earlier entry of the same account with the opposite amount",
            )
        elif reverses in reversed_once:
            check.fail("reversal", f"entry {reverses} is reversed twice (again by {entry_id})")
        reversed_once.add(reverses)
    return amounts


def _check_days(
    session: Session,
    numbers: dict[int, str],
    days: dict[tuple[date, int, str], list[int]],
    check: _Check,
) -> None:
    """The daily rollup the reports read says what the entries say, day by day."""
    stored = {
        (day, account_id, str(kind)): (entries, amount)
        for day, account_id, kind, entries, amount in session.execute(
            select(
                LedgerDay.day,
                LedgerDay.account_id,
                LedgerDay.kind,
                LedgerDay.entries,
                LedgerDay.amount_minor,
            )
        )
    }
    for key in sorted(stored.keys() | days.keys()):
        day, account_id, kind = key
        want = tuple(days.get(key, (0, 0)))
        if stored.get(key, (0, 0)) != want:
            entries, amount = stored.get(key, (0, 0))
            check.fail(
                "daily_rollup",
                f"the daily rollup of account {numbers.get(account_id)} for {kind} on {day} "
                f"says {entries} entries summing to {amount}, but the ledger has {want[0]} "
                f"summing to {want[1]} (minor units): reports would disagree with the ledger",
            )


def _check_receipts(session: Session, amounts: dict[int, tuple[int, int]], check: _Check) -> int:
    rows = session.execute(
        select(
            Receipt.number,
            Receipt.ledger_entry_id,
            Receipt.amount_minor,
            Receipt.balance_before_minor,
            Receipt.balance_after_minor,
        ).order_by(Receipt.number)
    ).all()
    expected = 1
    for number, entry_id, amount, before, after in rows:
        if number != expected:
            what = "receipt_duplicate" if number < expected else "receipt_gap"
            check.fail(
                what,
                f"receipt number {number} follows {expected - 1}; numbers must "
                "run without gaps or repeats",
            )
        expected = number + 1
        entry = amounts.get(entry_id)
        if entry is None or entry[1] != amount or after - before != amount:
            check.fail(
                "receipt_amount", f"receipt {number} does not match its ledger entry {entry_id}"
            )
    return len(rows)


def _check_usage(session: Session, currency: str, check: _Check) -> None:
    per_entry: dict[int, int] = defaultdict(int)
    exact: dict[tuple[int, object], Decimal] = defaultdict(Decimal)
    posted: dict[tuple[int, object], int] = defaultdict(int)
    for entry_id, meter_id, cycle, exact_text, minor in session.execute(
        select(
            UsageCharge.ledger_entry_id,
            UsageCharge.meter_id,
            UsageCharge.cycle_start,
            UsageCharge.amount_exact,
            UsageCharge.amount_minor,
        )
    ):
        if entry_id is not None:
            per_entry[entry_id] += minor or 0
        exact[(meter_id, cycle)] += Decimal(exact_text)
        posted[(meter_id, cycle)] += minor or 0
    for start in range(0, len(per_entry), 900):
        chunk = sorted(per_entry)[start : start + 900]
        for entry_id, amount in session.execute(
            select(LedgerEntry.id, LedgerEntry.amount_minor).where(LedgerEntry.id.in_(chunk))
        ):
            if -amount != per_entry[entry_id]:
                check.fail(
                    "usage",
                    f"consumption entry {entry_id} moves {-amount} but its usage charges "
                    f"were posted at {per_entry[entry_id]} (minor units)",
                )
    for key, total in exact.items():
        due = round_to_minor(total, currency)
        if posted[key] != due:
            check.fail(
                "usage",
                f"meter {key[0]}, billing cycle from {key[1]}: usage charges were posted at "
                f"{posted[key]} but their exact amount {total} rounds to {due} "
                "(minor units)",
            )


def _check_charge_days(session: Session, numbers: dict[int, str], check: _Check) -> None:
    """The usage billed per day says what the usage charges say, per meter, account, TOU
    period and tier (summed over the days: a charge's span may cross midnight)."""
    charged = {
        (meter_id, account_id, period or "", tier or 0): int(amount or 0)
        for meter_id, account_id, period, tier, amount in session.execute(
            select(
                UsageCharge.meter_id,
                UsageCharge.account_id,
                UsageCharge.period,
                UsageCharge.tier,
                func.sum(UsageCharge.amount_minor),
            ).group_by(
                UsageCharge.meter_id, UsageCharge.account_id, UsageCharge.period, UsageCharge.tier
            )
        )
    }
    by_day: dict[tuple[int, int, str, int], int] = defaultdict(int)
    for meter_id, account_id, period, tier, amount in session.execute(
        select(
            ChargeDay.meter_id,
            ChargeDay.account_id,
            ChargeDay.period,
            ChargeDay.tier,
            func.sum(ChargeDay.amount_minor),
        ).group_by(ChargeDay.meter_id, ChargeDay.account_id, ChargeDay.period, ChargeDay.tier)
    ):
        by_day[(meter_id, account_id, period, tier)] += int(amount or 0)
    kept = {(meter_id, account_id) for meter_id, account_id, _p, _t in by_day}
    for key in sorted(charged.keys() | by_day.keys()):
        meter_id, account_id, period, tier = key
        if (meter_id, account_id) not in kept:
            continue
        if charged.get(key, 0) != by_day.get(key, 0):
            check.fail(
                "charge_day",
                f"usage billed per day to account {numbers.get(account_id)} for meter "
                f"{meter_id} (period {period or '-'}, tier {tier or '-'}) adds up to "
                f"{by_day.get(key, 0)} but its usage charges to {charged.get(key, 0)} (minor "
                "units): the energy report's periods and tiers would disagree with the ledger",
            )
