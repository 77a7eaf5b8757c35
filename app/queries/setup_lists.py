"""Lists for the Setup screen's pages: balance policies with their accounts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.billing.money import Money
from app.billing.policy_file import PolicyWindow
from app.queries.site_facts import site_currency
from app.store.database import Database
from app.store.models import Account, BalancePolicy
from app.vocabulary import AccountStatus


@dataclass(frozen=True, slots=True)
class PolicyRow:
    id: int
    name: str
    currency: str
    alarm_1: str
    alarm_2: str
    overdraft_limit: str
    close_permit: str
    hoard_limit: str  # "" for none
    friendly_hours: str  # "mon-fri 22:00-08:00; ..."
    accounts: int  # open accounts on it


def list_policies(db: Database) -> list[PolicyRow]:
    with db.session() as session:
        currency = site_currency(session)
        counts = dict(
            session.execute(
                select(Account.policy_id, func.count())
                .where(Account.status == AccountStatus.OPEN)
                .group_by(Account.policy_id)
            ).all()
        )

        def money(minor: int | None) -> str:
            return "" if minor is None else str(Money(minor, currency))

        return [
            PolicyRow(
                p.id,
                p.name,
                currency,
                money(p.alarm_1_minor),
                money(p.alarm_2_minor),
                money(p.overdraft_limit_minor),
                money(p.close_permit_minor),
                money(p.hoard_limit_minor),
                "; ".join(str(PolicyWindow.from_json(w)) for w in p.friendly_hours or []),
                counts.get(p.id, 0),
            )
            for p in session.scalars(select(BalancePolicy).order_by(BalancePolicy.name))
        ]
