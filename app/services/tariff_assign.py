"""Which tariff plan bills which account: assign a plan to accounts one by one or by building
and floor (for the plan's utility). The engine prices usage rated after the change with the
new plan (it takes tariff changes up each minute)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.policy_setup import chosen_accounts
from app.services.setup_checks import SetupRefused
from app.store.models import AccountTariff, TariffPlan


def plan_named(session: Session, name: str) -> TariffPlan:
    plan = session.scalars(
        select(TariffPlan).where(func.lower(TariffPlan.name) == " ".join(name.split()).lower())
    ).first()
    if plan is None:
        names = session.scalars(select(TariffPlan.name).order_by(TariffPlan.name)).all()
        known = ", ".join(names) if names else "none yet: import a tariff file first"
        raise SetupRefused("plan", f"There is no tariff plan {name.strip()!r}; plans: {known}.")
    return plan


def assign_tariff(
    session: Session,
    by: SignedIn,
    plan_name: str,
    *,
    accounts: list[str] | None = None,
    building: str | None = None,
    floor: int | None = None,
) -> list[str]:
    """Bill the chosen open accounts' usage of the plan's utility on the plan; returns the
    numbers of the accounts whose plan changed (audited as one event)."""
    by.require(Action.CHANGE_TARIFF)
    plan = plan_named(session, plan_name)
    chosen = chosen_accounts(session, accounts=accounts, building=building, floor=floor)
    current = {
        row.account_id: row
        for row in session.scalars(
            select(AccountTariff).where(
                AccountTariff.account_id.in_([a.id for a in chosen]),
                AccountTariff.utility == plan.utility,
            )
        )
    }
    changed = []
    for account in chosen:
        row = current.get(account.id)
        if row is None:
            session.add(AccountTariff(account_id=account.id, utility=plan.utility, plan_id=plan.id))
        elif row.plan_id != plan.id:
            row.plan_id = plan.id
        else:
            continue
        changed.append(account.number)
    session.flush()
    if changed:
        record_audit(
            session,
            by,
            "tariff.assign",
            "tariff_plan",
            plan.id,
            None,
            {"plan": plan.name, "utility": plan.utility.value, "accounts": changed},
        )
    return changed
