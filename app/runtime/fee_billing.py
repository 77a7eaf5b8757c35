"""Periodic fees of the tariffs (meter rent, service fee, a monthly plan): each open account is
charged each fee of the version in force once per calendar week or month, at the first engine
tick of the cycle. The ledger entry's idempotency key ``fee:ACCOUNT:PLAN:FEE:CYCLE`` makes the
charge unique: a restart, or a second tick, never charges a cycle twice."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import round_to_minor
from app.billing.tariff.schedule import ScheduleError, cycle_start
from app.runtime.tariff_book import TariffBook
from app.services.ledger import NewEntry, post_entries
from app.store.models import Account, AccountTariff, LedgerEntry
from app.vocabulary import AccountStatus, LedgerKind

log = logging.getLogger(__name__)


def fee_key(account_id: int, plan_id: int, number: int, cycle: date) -> str:
    return f"fee:{account_id}:{plan_id}:{number}:{cycle.isoformat()}"


class FeeBilling:
    def __init__(self) -> None:
        self.charged: set[str] = set()
        self.posted = 0

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
                if key in self.charged:
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
        post_entries(session, entries, at=now)
        self.charged.update(e.idempotency_key for e in entries if e.idempotency_key)
        self.posted += len(entries)
        if entries:
            log.info("charged %d periodic fees", len(entries))
        return {entry.account_id for entry in entries}
