"""Balance policies: create and change them (from a form or the TOML file of DOMAIN.md
section 1), export them, and assign them to accounts one by one or by building and floor.

A policy is found by its name, case-insensitive: importing a file with the name of a stored
policy replaces its values (audited; accounts keep it). Changing who is on which policy is a
supervisor's act, audited with the accounts it moved. A running console or ``serve`` applies
the new thresholds at its next evaluation of every account (each minute).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing.credit_region import CreditThresholds
from app.billing.policy_file import PolicyValues, dump_policy, parse_policy
from app.queries.setup_lists import policy_values
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused
from app.services.site_layout import active_building
from app.store.database import Database
from app.store.models import Account, BalancePolicy, Room
from app.vocabulary import AccountStatus


@dataclass(frozen=True)
class PolicySaved:
    name: str
    outcome: str  # added | changed | unchanged


def thresholds_of(policy: BalancePolicy) -> CreditThresholds:
    """The policy's credit thresholds, for ``credit_region`` and the supply decision."""
    return CreditThresholds(
        policy.alarm_1_minor,
        policy.alarm_2_minor,
        policy.overdraft_limit_minor,
        policy.close_permit_minor,
    )


def policy_named(session: Session, name: str) -> BalancePolicy | None:
    return session.scalars(
        select(BalancePolicy).where(
            func.lower(BalancePolicy.name) == " ".join(name.split()).lower()
        )
    ).first()


def save_policy(session: Session, by: SignedIn, values: PolicyValues) -> PolicySaved:
    """Add the policy, or replace the values of the stored one with its name."""
    by.require(Action.CHANGE_POLICY)
    stored = values.to_stored()
    policy = policy_named(session, values.name)
    if policy is None:
        policy = BalancePolicy(**stored)
        session.add(policy)
        session.flush()
        record_audit(session, by, "policy.add", "policy", policy.id, None, stored)
        return PolicySaved(values.name, "added")
    before = policy_values(policy).to_stored()
    if before == stored:
        return PolicySaved(policy.name, "unchanged")
    for key, value in stored.items():
        setattr(policy, key, value)
    session.flush()
    record_audit(session, by, "policy.change", "policy", policy.id, before, stored)
    return PolicySaved(policy.name, "changed")


def import_policy(session: Session, by: SignedIn, text: str, source: str) -> PolicySaved:
    """Store a policy file; ``PolicyFileError`` lists every problem and nothing is stored."""
    by.require(Action.CHANGE_POLICY)
    return save_policy(session, by, parse_policy(text, source, site_currency(session)))


def export_policy(session: Session, name: str) -> str:
    policy = policy_named(session, name)
    if policy is None:
        raise SetupRefused("policy", _no_policy(session, name))
    return dump_policy(policy_values(policy), site_currency(session))


def stored_policy(session: Session, name: str) -> PolicyValues:
    policy = policy_named(session, name)
    if policy is None:
        raise SetupRefused("policy", _no_policy(session, name))
    return policy_values(policy)


def _no_policy(session: Session, name: str) -> str:
    names = session.scalars(select(BalancePolicy.name).order_by(BalancePolicy.name)).all()
    known = ", ".join(names) if names else "none yet: import or create one first"
    return f"There is no balance policy {name.strip()!r}; policies: {known}."


def assign_policy(
    session: Session,
    by: SignedIn,
    name: str,
    *,
    accounts: list[str] | None = None,
    building: str | None = None,
    floor: int | None = None,
) -> list[str]:
    """Put accounts on the policy: the numbers given, or every open account of a building (and
    floor). Returns the numbers of the accounts that moved to it (audited as one event)."""
    by.require(Action.CHANGE_POLICY)
    policy = policy_named(session, name)
    if policy is None:
        raise SetupRefused("policy", _no_policy(session, name))
    chosen = chosen_accounts(session, accounts=accounts, building=building, floor=floor)
    moved = [a for a in chosen if a.policy_id != policy.id]
    for account in moved:
        account.policy_id = policy.id
    session.flush()
    if moved:
        record_audit(
            session,
            by,
            "policy.assign",
            "policy",
            policy.id,
            None,
            {"policy": policy.name, "accounts": [a.number for a in moved]},
        )
    return [a.number for a in moved]


def chosen_accounts(
    session: Session,
    *,
    accounts: list[str] | None = None,
    building: str | None = None,
    floor: int | None = None,
) -> list[Account]:
    """Open accounts by number, or every open account of a building (and floor)."""
    if accounts:
        numbers = [n.strip() for n in accounts if n.strip()]
        found = {
            a.number: a
            for a in session.scalars(
                select(Account).where(Account.number.in_(numbers)).with_for_update()
            )
        }
        for number in numbers:
            account = found.get(number)
            if account is None:
                raise SetupRefused("account", f"There is no account {number!r}.")
            if account.status is not AccountStatus.OPEN:
                raise SetupRefused("account", f"Account {number} is closed.")
        return [found[n] for n in numbers]
    if building is None:
        raise SetupRefused("account", "Name the accounts, or a building (and floor).")
    place = active_building(session, building)
    query = (
        select(Account)
        .join(Room, Room.id == Account.room_id)
        .where(Room.building_id == place.id, Account.status == AccountStatus.OPEN)
        .order_by(Account.number)
        .with_for_update()
    )
    if floor is not None:
        query = query.where(Room.floor == floor)
    found_all = list(session.scalars(query))
    if not found_all:
        where = f"{place.name}" + (f", floor {floor}" if floor is not None else "")
        raise SetupRefused("building", f"There is no open account in {where}.")
    return found_all


def export_policy_of(db: Database, name: str) -> str:
    """``export_policy`` in a read-only session of its own (screens)."""
    with db.session() as session:
        return export_policy(session, name)


def stored_policy_of(db: Database, name: str) -> PolicyValues:
    """``stored_policy`` in a read-only session of its own (the policy form)."""
    with db.session() as session:
        return stored_policy(session, name)
