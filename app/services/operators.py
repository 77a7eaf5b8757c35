"""Operators: the first administrator of an empty database, login, and adding operators.

The caller owns the transaction. Passwords are hashed with argon2id (``passwords``); a failed
login says only that the name or password is wrong, never which, and takes as long for a name
nobody has. Wrong passwords in a row lock the name for a while (``sign_in_locks``); each one is
logged and audited with the name and where it was typed, never the password. User names are
compared as they look (``operator_names``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.services import sign_in_locks
from app.services.audit import record_audit
from app.services.operator_names import (
    USERNAME_MAX,
    display_name_problem,
    normal_username,
    username_key,
    username_problem,
)
from app.services.passwords import hash_password, nobodys_hash, verify_password
from app.services.permissions import Action, require
from app.store.database import Database
from app.store.models import Operator
from app.vocabulary import Role, SignInPlace

log = logging.getLogger(__name__)

MIN_PASSWORD = 8
WRONG = "The user name or the password is wrong; try again."
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


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


def _check(username: str, password: str, display_name: str = "") -> str:
    """The user name as it is stored (NFKC), or ``OperatorRefused`` saying what to change."""
    problem = username_problem(username) or display_name_problem(display_name)
    if problem:
        raise OperatorRefused(problem)
    _check_password(password)
    return normal_username(username)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorRefused(
            f"The password has {len(password)} characters; give at least {MIN_PASSWORD}."
        )


def _operators_called(session: Session, username: str) -> list[Operator]:
    """The operators whose name is ``username`` as it looks (NFKC, any case), oldest first.

    Compared here rather than by the database's ``lower()``, which SQLite applies to ASCII
    letters only."""
    key = username_key(username)
    return [
        operator
        for operator in session.scalars(select(Operator).order_by(Operator.id))
        if username_key(operator.username) == key
    ]


def _operator_called(session: Session, username: str) -> Operator | None:
    """The operator of that name; where names stored before they were normalised look the
    same, the one spelt exactly as typed, else the oldest."""
    found = _operators_called(session, username)
    exact = [o for o in found if o.username == normal_username(username)]
    chosen = exact or found
    return chosen[0] if chosen else None


def create_first_admin(
    session: Session, username: str, display_name: str, password: str
) -> SignedIn:
    """The administrator of a new database; refused once any operator exists."""
    if not needs_first_admin(session):
        raise OperatorRefused(
            "This database already has operators; an administrator adds new ones."
        )
    admin = _add(
        session, _check(username, password, display_name), display_name, Role.ADMIN, password
    )
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
    name = _check(username, password, display_name)
    if _operators_called(session, name):
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
    found = _operator_called(session, username)
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
    _check_password(password)  # not the name: one stored before names were checked keeps it
    operator.password_hash = hash_password(password)
    session.flush()
    record_audit(session, by, "operator.reset_password", "operator", operator.id, None, None)
    return _signed_in(operator)


def sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    where: SignInPlace = SignInPlace.CONSOLE,
    clock: Clock = _utc_now,
) -> SignedIn:
    """The operator with this name and password, or ``OperatorRefused``. A refusal rolls the
    caller's transaction back, and with it the count of wrong passwords: ``login`` keeps it."""
    result = attempt_sign_in(session, username, password, where=where, clock=clock)
    if isinstance(result, OperatorRefused):
        raise result
    return result


def attempt_sign_in(
    session: Session,
    username: str,
    password: str,
    *,
    where: SignInPlace,
    clock: Clock = _utc_now,
) -> SignedIn | OperatorRefused:
    """Try a sign-in and write what it leaves behind (the last sign-in, or the wrong password
    counted, logged and audited); the caller commits either way.

    Exactly one password hash is verified whatever the name (a name nobody has is checked
    against ``nobodys_hash``), so a wrong name takes as long as a wrong password. A name that
    is locked is refused even with its right password, and "switched off" is said only after
    the right password, so neither tells a guesser anything."""
    now = clock()
    name = normal_username(username)
    key = username_key(username)
    usable = username_problem(username) is None and len(key) <= USERNAME_MAX
    operator = _operator_called(session, username) if usable else None
    right = verify_password(operator.password_hash if operator else nobodys_hash(), password)
    right = right and operator is not None
    until = sign_in_locks.lock_in_force(session, key, now) if usable else None
    if until is not None:
        log.warning("sign-in as %r at the %s refused: the name is locked", name[:80], where)
        return OperatorRefused(sign_in_locks.locked_text(session, name, until))
    if operator is None or not right:
        return _wrong_password(session, name, key if usable else None, where, now)
    sign_in_locks.clear(session, key)
    if not operator.active:
        return OperatorRefused(
            f"The account of {operator.username} is switched off; ask an administrator."
        )
    operator.last_login_at = now
    return _signed_in(operator)


def _wrong_password(
    session: Session, name: str, key: str | None, where: SignInPlace, now: datetime
) -> OperatorRefused:
    """Count, log and audit a wrong name or password (never the password itself)."""
    log.warning("failed sign-in as %r at the %s", name[:80], where)
    if key is None:  # a name nobody can have (too long, hidden characters): nothing to lock
        return OperatorRefused(WRONG)
    failures = sign_in_locks.count_failure(session, key, now)
    record_audit(
        session,
        None,
        "sign_in.failed",
        "sign_in",
        key,
        None,
        {"where": where.value, "in_a_row": failures.in_a_row},
    )
    if failures.locked_until is None:
        return OperatorRefused(WRONG)
    record_audit(
        session,
        None,
        "sign_in.locked",
        "sign_in",
        key,
        None,
        {"where": where.value, "locked_until": failures.locked_until.isoformat()},
    )
    log.warning(
        "%r is locked until %s after %d wrong passwords in a row",
        name[:80],
        failures.locked_until.isoformat(timespec="seconds"),
        sign_in_locks.LOCK_AFTER,
    )
    return OperatorRefused(
        "The user name or the password is wrong. "
        + sign_in_locks.locked_text(session, name, failures.locked_until)
    )


def unlock(session: Session, by: SignedIn, username: str, *, clock: Clock = _utc_now) -> bool:
    """Lift an operator's sign-in lock and forget their wrong passwords (administrators);
    False when there was nothing to lift."""
    by.require(Action.MANAGE_OPERATORS)
    operator = _operator_named(session, username)
    removed = sign_in_locks.clear(session, username_key(operator.username))
    if removed is None or removed.locked_until is None or removed.locked_until <= clock():
        return False
    record_audit(
        session,
        by,
        "sign_in.unlock",
        "operator",
        operator.id,
        {"locked_until": removed.locked_until.isoformat()},
        None,
    )
    return True


def login(
    db: Database,
    username: str,
    password: str,
    *,
    where: SignInPlace = SignInPlace.CONSOLE,
    clock: Clock = _utc_now,
) -> SignedIn:
    """Sign in, in a transaction of its own that is committed even when the sign-in is
    refused, so that the wrong password counts (screens and commands call this)."""
    with db.transaction() as session:
        result = attempt_sign_in(session, username, password, where=where, clock=clock)
    if isinstance(result, OperatorRefused):
        raise result
    return result


def database_needs_first_admin(db: Database) -> bool:
    with db.session() as session:
        return needs_first_admin(session)


def set_up_first_admin(db: Database, username: str, display_name: str, password: str) -> SignedIn:
    """The first administrator, in a transaction of its own."""
    with db.transaction() as session:
        return create_first_admin(session, username, display_name, password)


def _signed_in(operator: Operator) -> SignedIn:
    return SignedIn(operator.id, operator.username, operator.display_name, operator.role)


def list_operators(db: Database, *, clock: Clock = _utc_now) -> list[dict[str, object]]:
    """Every operator: id, user name, display name, role, active, last login, and until when
    the name is locked after wrong passwords (None: not locked). No hashes."""
    with db.session() as session:
        locks = sign_in_locks.locks_by_key(session, clock())
        return [
            {
                "id": o.id,
                "username": o.username,
                "display_name": o.display_name,
                "role": o.role.value,
                "active": o.active,
                "last_login_at": o.last_login_at.isoformat() if o.last_login_at else None,
                "locked_until": (
                    locks[username_key(o.username)].isoformat()
                    if username_key(o.username) in locks
                    else None
                ),
            }
            for o in session.scalars(select(Operator).order_by(Operator.username))
        ]


def operator_name(session: Session, operator_id: int | None) -> str:
    """The display name of an operator ("" for none or unknown)."""
    if operator_id is None:
        return ""
    return session.scalar(select(Operator.display_name).where(Operator.id == operator_id)) or ""
