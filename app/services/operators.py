"""Operators: the first administrator of an empty database, login, and adding operators.

The caller owns the transaction. Passwords are hashed with argon2id (``passwords``); a failed
login says only that the name or password is wrong, never which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.services.audit import record_audit
from app.services.passwords import hash_password, verify_password
from app.services.permissions import Action, require
from app.store.database import Database
from app.store.models import Operator, column_length
from app.vocabulary import Role

MIN_PASSWORD = 8
USERNAME_MAX = column_length(Operator.username)


class OperatorRefused(ValueError):
    """A login or an operator change that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class SignedIn:
    """Who is at the keyboard (ids and names only: no ORM object outlives the session)."""

    operator_id: int
    username: str
    display_name: str
    role: Role

    def require(self, action: Action) -> None:
        require(self.role, action)


def needs_first_admin(session: Session) -> bool:
    """True for a database with no operator yet: the first start asks for an admin."""
    return not session.scalar(select(func.count()).select_from(Operator))


def _check(username: str, password: str) -> str:
    name = username.strip()
    if not name or len(name) > USERNAME_MAX or any(c.isspace() for c in name):
        raise OperatorRefused(
            f"User name {username!r} is not usable: give 1 to {USERNAME_MAX} characters "
            "without spaces."
        )
    if len(password) < MIN_PASSWORD:
        raise OperatorRefused(
            f"The password has {len(password)} characters; give at least {MIN_PASSWORD}."
        )
    return name


def create_first_admin(
    session: Session, username: str, display_name: str, password: str
) -> SignedIn:
    """The administrator of a new database; refused once any operator exists."""
    if not needs_first_admin(session):
        raise OperatorRefused(
            "This database already has operators; an administrator adds new ones."
        )
    admin = _add(session, _check(username, password), display_name, Role.ADMIN, password)
    record_audit(
        session,
        admin,
        "operator.first_admin",
        "operator",
        admin.operator_id,
        None,
        {"username": admin.username, "role": admin.role.value},
    )
    return admin


def add_operator(
    session: Session,
    by: SignedIn,
    username: str,
    display_name: str,
    role: Role,
    password: str,
) -> SignedIn:
    """A new operator, added by someone who may manage operators."""
    by.require(Action.MANAGE_OPERATORS)
    name = _check(username, password)
    if session.scalar(select(Operator.id).where(func.lower(Operator.username) == name.lower())):
        raise OperatorRefused(f"There is already an operator called {name}; choose another name.")
    added = _add(session, name, display_name, role, password)
    record_audit(
        session,
        by,
        "operator.add",
        "operator",
        added.operator_id,
        None,
        {"username": added.username, "display_name": added.display_name, "role": added.role.value},
    )
    return added


def _add(session: Session, name: str, display_name: str, role: Role, password: str) -> SignedIn:
    operator = Operator(
        username=name,
        display_name=display_name.strip() or name,
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    session.add(operator)
    session.flush()
    return _signed_in(operator)


def _operator_named(session: Session, username: str) -> Operator:
    found = session.scalars(
        select(Operator).where(func.lower(Operator.username) == username.strip().lower())
    ).first()
    if found is None:
        raise OperatorRefused(f"There is no operator {username.strip()!r}; check the user name.")
    return found


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Operator)
            .where(Operator.role == Role.ADMIN, Operator.active.is_(True))
        )
        or 0
    )


def _keeps_an_admin(session: Session, operator: Operator) -> None:
    if operator.role is Role.ADMIN and operator.active and _active_admins(session) <= 1:
        raise OperatorRefused(
            f"{operator.username} is the only administrator still active; make another "
            "operator an administrator first, or nobody could manage operators."
        )


def change_role(session: Session, by: SignedIn, username: str, role: Role) -> SignedIn:
    """Give an operator another role (administrators; the last active admin stays one)."""
    by.require(Action.MANAGE_OPERATORS)
    operator = _operator_named(session, username)
    if operator.role is role:
        return _signed_in(operator)
    if role is not Role.ADMIN:
        _keeps_an_admin(session, operator)
    before = operator.role.value
    operator.role = role
    session.flush()
    record_audit(
        session,
        by,
        "operator.role",
        "operator",
        operator.id,
        {"role": before},
        {"role": role.value},
    )
    return _signed_in(operator)


def set_active(session: Session, by: SignedIn, username: str, active: bool) -> SignedIn:
    """Switch an operator off (no more sign-ins; history keeps the name) or back on."""
    by.require(Action.MANAGE_OPERATORS)
    operator = _operator_named(session, username)
    if operator.active is active:
        return _signed_in(operator)
    if not active:
        if operator.id == by.operator_id:
            raise OperatorRefused("You cannot switch yourself off; ask another administrator.")
        _keeps_an_admin(session, operator)
    operator.active = active
    session.flush()
    record_audit(
        session,
        by,
        "operator.enable" if active else "operator.disable",
        "operator",
        operator.id,
        {"active": not active},
        {"active": active},
    )
    return _signed_in(operator)


def reset_password(session: Session, by: SignedIn, username: str, password: str) -> SignedIn:
    """A new password for an operator (administrators), audited without the password."""
    by.require(Action.MANAGE_OPERATORS)
    operator = _operator_named(session, username)
    _check(operator.username, password)
    operator.password_hash = hash_password(password)
    session.flush()
    record_audit(session, by, "operator.reset_password", "operator", operator.id, None, None)
    return _signed_in(operator)


def sign_in(session: Session, username: str, password: str) -> SignedIn:
    """The operator with this name and password, or ``OperatorRefused``."""
    operator = session.scalars(
        select(Operator).where(func.lower(Operator.username) == username.strip().lower())
    ).first()
    if operator is None or not verify_password(operator.password_hash, password):
        raise OperatorRefused("The user name or the password is wrong; try again.")
    if not operator.active:
        raise OperatorRefused(
            f"The account of {operator.username} is switched off; ask an administrator."
        )
    operator.last_login_at = datetime.now(UTC)
    return _signed_in(operator)


def login(db: Database, username: str, password: str) -> SignedIn:
    """Sign in, in a transaction of its own (screens and commands call this)."""
    with db.transaction() as session:
        return sign_in(session, username, password)


def database_needs_first_admin(db: Database) -> bool:
    with db.session() as session:
        return needs_first_admin(session)


def set_up_first_admin(db: Database, username: str, display_name: str, password: str) -> SignedIn:
    """The first administrator, in a transaction of its own."""
    with db.transaction() as session:
        return create_first_admin(session, username, display_name, password)


def _signed_in(operator: Operator) -> SignedIn:
    return SignedIn(operator.id, operator.username, operator.display_name, operator.role)


def list_operators(db: Database) -> list[dict[str, object]]:
    """Every operator: id, user name, display name, role, active, last login (no hashes)."""
    with db.session() as session:
        return [
            {
                "id": o.id,
                "username": o.username,
                "display_name": o.display_name,
                "role": o.role.value,
                "active": o.active,
                "last_login_at": o.last_login_at.isoformat() if o.last_login_at else None,
            }
            for o in session.scalars(select(Operator).order_by(Operator.username))
        ]


def operator_name(session: Session, operator_id: int | None) -> str:
    """The display name of an operator ("" for none or unknown)."""
    if operator_id is None:
        return ""
    return session.scalar(select(Operator.display_name).where(Operator.id == operator_id)) or ""
