"""Lists for the Setup screen's pages: balance policies with their accounts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.billing.policy_file import PolicyValues
from app.billing.policy_form import policy_to_fields
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

        rows = []
        for p in session.scalars(select(BalancePolicy).order_by(BalancePolicy.name)):
            fields = policy_to_fields(policy_values(p), currency)  # as the policy form shows them
            rows.append(
                PolicyRow(
                    p.id,
                    p.name,
                    currency,
                    fields["alarm_1"],
                    fields["alarm_2"],
                    fields["overdraft_limit"],
                    fields["close_permit"],
                    fields["hoard_limit"],
                    fields["friendly_hours_text"],
                    counts.get(p.id, 0),
                )
            )
        return rows


def policy_values(policy: BalancePolicy) -> PolicyValues:
    """A stored policy as the values its file and form show (``policy_setup`` exports them)."""
    return PolicyValues.from_stored(
        name=policy.name,
        alarm_1_minor=policy.alarm_1_minor,
        alarm_2_minor=policy.alarm_2_minor,
        overdraft_limit_minor=policy.overdraft_limit_minor,
        close_permit_minor=policy.close_permit_minor,
        hoard_limit_minor=policy.hoard_limit_minor,
        friendly_hours=policy.friendly_hours or [],
        friendly_dates=policy.friendly_dates or [],
    )
