"""Periodic fees of the tariffs (meter rent, service fee, a monthly plan): each open account is
charged each fee of the version in force once per calendar week or month, at the first engine
tick of the cycle. The ledger entry's idempotency key ``fee:ACCOUNT:PLAN:FEE:CYCLE`` makes the
charge unique: a restart, or a second tick, never charges a cycle twice.

Keys people give never begin with ``fee:`` (``service_checks.check_key``). One a person took
before that rule (an old database) is found before posting: that fee is not charged, and a
critical alarm names the account and the entry holding its key. Each account's fees are posted
in a savepoint of their own when posting them together fails (``account_isolation``): one
account that cannot be charged never stops the others'."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import round_to_minor
from app.billing.tariff.schedule import ScheduleError, cycle_start
from app.runtime.account_isolation import account_skipped, each_account, error_text
from app.runtime.tariff_book import TariffBook
from app.services.ledger import NewEntry, post_entries
from app.services.service_checks import FEE_KEY_PREFIX
from app.store.models import Account, AccountTariff, LedgerEntry
from app.vocabulary import AccountStatus, LedgerKind

log = logging.getLogger(__name__)


def fee_key(account_id: int, plan_id: int, number: int, cycle: date) -> str:
    return f"{FEE_KEY_PREFIX}{account_id}:{plan_id}:{number}:{cycle.isoformat()}"


class FeeBilling:
    def __init__(self) -> None:
        self.charged: set[str] = set()
        self.blocked: set[str] = set()  # keys held by another entry: alarmed, not charged
        self.posted = 0
        self.failed = 0  # fee charges that could not be posted (alarm raised)

    def load(self, session: Session, now: datetime) -> None:
        """The fee charges of the last 40 days (every cycle still current is among them)."""
        since = now - timedelta(days=40)
        self.charged = {
            key
            for key in session.scalars(
                select(LedgerEntry.idempotency_key).where(
                    LedgerEntry.kind == LedgerKind.FEE,
                    LedgerEntry.created_at >= since,
                    LedgerEntry.idempotency_key.is_not(None),
                )
            )
            if key is not None
        }

    def charge(
        self, session: Session, book: TariffBook, zone: ZoneInfo, currency: str, now: datetime
    ) -> set[int]:
        """Charge every fee due today; returns the accounts charged."""
        today = now.astimezone(zone).date()
        entries: list[NewEntry] = []
        for account_id, plan_id in session.execute(
            select(AccountTariff.account_id, AccountTariff.plan_id)
            .join(Account, Account.id == AccountTariff.account_id)
            .where(Account.status == AccountStatus.OPEN)
            .order_by(AccountTariff.account_id, AccountTariff.plan_id)
        ):
            schedule = book.schedules.get(plan_id)
            if schedule is None:
                continue
            try:
                version = schedule.versions[schedule.version_index(today)]
            except ScheduleError:
                continue  # the plan's first version is not in force yet
            for number, fee in enumerate(version.fees):
                cycle = cycle_start(fee.every, today)
                key = fee_key(account_id, plan_id, number, cycle)
                if key in self.charged or key in self.blocked:
                    continue
                amount = round_to_minor(fee.amount, currency)
                if amount:
                    entries.append(
                        NewEntry(
                            account_id,
                            LedgerKind.FEE,
                            -amount,
                            reason=f"{fee.name}, {fee.every} from {cycle.isoformat()}",
                            reference=version.name[:80],
                            idempotency_key=key,
                        )
                    )
        entries = self._unheld(session, entries, now)
        by_account: dict[int, list[NewEntry]] = {}
        for entry in entries:
            by_account.setdefault(entry.account_id, []).append(entry)

        def write(accounts: Sequence[int]) -> None:
            post_entries(session, [e for a in accounts for e in by_account[a]], at=now)

        failed = each_account(session, sorted(by_account), write)
        for account_id, exc in failed.items():
            self.failed += len(by_account[account_id])
            names = ", ".join(e.reason for e in by_account[account_id])
            account_skipped(
                session,
                account_id,
                f"the periodic fees ({names}) could not be charged",
                error_text(exc),
                now,
            )
        charged = [e for e in entries if e.account_id not in failed]
        self.charged.update(e.idempotency_key for e in charged if e.idempotency_key)
        self.posted += len(charged)
        if charged:
            log.info("charged %d periodic fees", len(charged))
        return {entry.account_id for entry in charged}

    def _unheld(self, session: Session, entries: list[NewEntry], now: datetime) -> list[NewEntry]:
        """The entries whose key no ledger entry holds yet. A key held by this very fee (charged
        by another runtime, or before the 40 days ``load`` reads) counts as charged; a key held
        by anything else blocks the fee: it is left out and an alarm says so, once per key."""
        keys = [e.idempotency_key for e in entries if e.idempotency_key]
        holders: dict[str, tuple[int, int, str, LedgerKind]] = {}
        for start in range(0, len(keys), 900):
            for key, entry_id, account_id, number, kind in session.execute(
                select(
                    LedgerEntry.idempotency_key,
                    LedgerEntry.id,
                    LedgerEntry.account_id,
                    Account.number,
                    LedgerEntry.kind,
                )
                .join(Account, Account.id == LedgerEntry.account_id)
                .where(LedgerEntry.idempotency_key.in_(keys[start : start + 900]))
            ):
                if key is not None:
                    holders[key] = (entry_id, account_id, number, kind)
        free = []
        for entry in entries:
            key = entry.idempotency_key or ""
            held = holders.get(key)
            if held is None:
                free.append(entry)
                continue
            entry_id, account_id, number, kind = held
            if kind is LedgerKind.FEE and account_id == entry.account_id:
                self.charged.add(key)
                continue
            self.blocked.add(key)
            self.failed += 1
            account_skipped(
                session,
                entry.account_id,
                f"the periodic fee {entry.reason!r} was not charged",
                f"its key {key!r} is held by ledger entry {entry_id}, a {kind.value} of "
                f"account {number}",
                now,
                then="Every other account was billed. Charge this fee with an adjustment if it "
                "is due; the engine cannot charge it under its key.",
                evidence={"key": key, "entry_id": entry_id},
            )
        return free
