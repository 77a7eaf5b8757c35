"""Operators: the first admin of an empty database, sign-in, adding operators by role."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.services.operators import (
    OperatorRefused,
    add_operator,
    create_first_admin,
    needs_first_admin,
    sign_in,
)
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import Operator
from app.vocabulary import Role


def test_an_empty_database_asks_for_its_admin_once(db: Database) -> None:
    with db.transaction() as session:
        assert needs_first_admin(session)
        admin = create_first_admin(session, "li.admin", "Li Wei", "correct horse")
        assert admin.role is Role.ADMIN
        assert not needs_first_admin(session)
        with pytest.raises(OperatorRefused, match="already has operators"):
            create_first_admin(session, "other", "Other", "correct horse")
        stored = session.scalars(select(Operator)).one()
        assert stored.password_hash.startswith("$argon2id$")  # never the password itself
        assert "correct horse" not in stored.password_hash


def test_sign_in_takes_the_right_password_only_and_says_nothing_more(db: Database) -> None:
    with db.transaction() as session:
        create_first_admin(session, "li.admin", "Li Wei", "correct horse")
    with db.transaction() as session:
        who = sign_in(session, "LI.ADMIN", "correct horse")  # names ignore case
        assert who.username == "li.admin"
        assert session.get_one(Operator, who.operator_id).last_login_at is not None
    for name, password in (("li.admin", "wrong horse"), ("nobody", "correct horse")):
        with db.transaction() as session, pytest.raises(OperatorRefused) as refused:
            sign_in(session, name, password)
        assert str(refused.value) == "The user name or the password is wrong; try again."


def test_only_an_admin_adds_operators_and_names_and_passwords_are_checked(db: Database) -> None:
    with db.transaction() as session:
        admin = create_first_admin(session, "admin", "Admin", "correct horse")
        cashier = add_operator(session, admin, "wang", "Wang Fang 王芳", Role.CASHIER, "12345678")
        with pytest.raises(PermissionDenied, match="A cashier may not manage operators"):
            add_operator(session, cashier, "zhao", "Zhao", Role.SUPERVISOR, "12345678")
        with pytest.raises(OperatorRefused, match="already an operator called"):
            add_operator(session, admin, "WANG", "Another", Role.CASHIER, "12345678")
        with pytest.raises(OperatorRefused, match="at least 8"):
            add_operator(session, admin, "zhao", "Zhao", Role.SUPERVISOR, "short")
        with pytest.raises(OperatorRefused, match="without spaces"):
            add_operator(session, admin, "zhao min", "Zhao", Role.SUPERVISOR, "12345678")
    with db.transaction() as session:
        assert sign_in(session, "wang", "12345678").role is Role.CASHIER


def test_a_switched_off_operator_cannot_sign_in(db: Database) -> None:
    with db.transaction() as session:
        admin = create_first_admin(session, "admin", "Admin", "correct horse")
        add_operator(session, admin, "wang", "Wang", Role.CASHIER, "12345678")
        session.scalars(select(Operator).where(Operator.username == "wang")).one().active = False
    with db.transaction() as session, pytest.raises(OperatorRefused, match="switched off"):
        sign_in(session, "wang", "12345678")
