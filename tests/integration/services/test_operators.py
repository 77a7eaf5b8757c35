"""Operators: the first admin of an empty database, sign-in, adding operators by role; an
admin changes roles, switches operators off and on and resets passwords, and the last active
admin stays one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.services.operators import (
    OperatorRefused,
    SignedIn,
    add_operator,
    change_role,
    create_first_admin,
    needs_first_admin,
    reset_password,
    set_active,
    sign_in,
)
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import AuditEvent, Operator
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


# -- roles, switching off and on, new passwords (administrators; the last admin stays) ---------


def _team(db: Database) -> tuple[SignedIn, SignedIn]:
    """The first admin and a cashier "wang" (password 12345678)."""
    with db.transaction() as session:
        admin = create_first_admin(session, "admin", "Admin", "correct horse")
        cashier = add_operator(session, admin, "wang", "Wang", Role.CASHIER, "12345678")
    return admin, cashier


def _events(db: Database) -> list[tuple[str, str, object, object]]:
    with db.session() as session:
        return [
            (e.action, e.target_id, e.before, e.after)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def _operators(db: Database) -> list[tuple[str, Role, bool, str]]:
    with db.session() as session:
        return [
            (o.username, o.role, o.active, o.password_hash)
            for o in session.scalars(select(Operator).order_by(Operator.id))
        ]


def test_an_admin_gives_an_operator_another_role(db: Database) -> None:
    admin, cashier = _team(db)
    with db.transaction() as session:
        changed = change_role(session, admin, "WANG", Role.SUPERVISOR)
    assert (changed.username, changed.role) == ("wang", Role.SUPERVISOR)
    assert _events(db)[-1] == (
        "operator.role",
        str(cashier.operator_id),
        {"role": "cashier"},
        {"role": "supervisor"},
    )
    with db.transaction() as session:
        assert sign_in(session, "wang", "12345678").role is Role.SUPERVISOR
    before = _events(db)
    with db.transaction() as session:
        change_role(session, admin, "wang", Role.SUPERVISOR)  # the same role: nothing to record
    assert _events(db) == before
    with db.transaction() as session, pytest.raises(OperatorRefused, match="no operator 'li'"):
        change_role(session, admin, "li", Role.OFFICE)


def test_only_an_admin_manages_operators(db: Database) -> None:
    admin, cashier = _team(db)
    with db.transaction() as session:
        supervisor = add_operator(session, admin, "zhao", "Zhao", Role.SUPERVISOR, "12345678")
    before = (_operators(db), _events(db))
    steps = [
        lambda session, who: change_role(session, who, "wang", Role.ADMIN),
        lambda session, who: set_active(session, who, "wang", False),
        lambda session, who: reset_password(session, who, "wang", "a new password"),
    ]
    for who in (cashier, supervisor):
        for step in steps:
            with db.transaction() as session, pytest.raises(PermissionDenied) as denied:
                step(session, who)
            assert str(denied.value).endswith(
                "may not manage operators; ask an administrator to do it."
            )
    assert (_operators(db), _events(db)) == before


def test_the_last_active_admin_stays_an_admin(db: Database) -> None:
    admin, _cashier = _team(db)
    before = (_operators(db), _events(db))
    with db.transaction() as session, pytest.raises(OperatorRefused) as refused:
        change_role(session, admin, "admin", Role.SUPERVISOR)
    assert str(refused.value) == (
        "admin is the only administrator still active; make another operator an "
        "administrator first, or nobody could manage operators."
    )
    with db.transaction() as session, pytest.raises(OperatorRefused, match="switch yourself off"):
        set_active(session, admin, "admin", False)
    assert (_operators(db), _events(db)) == before
    # a second admin who is switched off does not count ...
    with db.transaction() as session:
        add_operator(session, admin, "li", "Li", Role.ADMIN, "87654321")
        set_active(session, admin, "li", False)
    with db.transaction() as session, pytest.raises(OperatorRefused, match="only administrator"):
        change_role(session, admin, "admin", Role.OFFICE)
    # ... an active one does: then either may step down, but not both
    with db.transaction() as session:
        set_active(session, admin, "li", True)
    with db.transaction() as session:
        li = sign_in(session, "li", "87654321")
    with db.transaction() as session:
        assert change_role(session, li, "admin", Role.OFFICE).role is Role.OFFICE
    # "admin" signed in before losing the role still holds an admin's SignedIn: the rule is
    # checked against the database, not against who signed in
    with db.transaction() as session, pytest.raises(OperatorRefused, match="li is the only"):
        set_active(session, admin, "li", False)
    with db.transaction() as session, pytest.raises(OperatorRefused, match="li is the only"):
        change_role(session, admin, "li", Role.CASHIER)
    assert [(name, role, active) for name, role, active, _ in _operators(db)] == [
        ("admin", Role.OFFICE, True),
        ("wang", Role.CASHIER, True),
        ("li", Role.ADMIN, True),
    ]


def test_a_switched_off_operator_is_switched_on_again(db: Database) -> None:
    admin, cashier = _team(db)
    with db.transaction() as session:
        off = set_active(session, admin, "wang", False)
    assert off.username == "wang"
    assert _events(db)[-1] == (
        "operator.disable",
        str(cashier.operator_id),
        {"active": True},
        {"active": False},
    )
    with db.transaction() as session, pytest.raises(OperatorRefused, match="switched off"):
        sign_in(session, "wang", "12345678")
    before = _events(db)
    with db.transaction() as session:
        set_active(session, admin, "wang", False)  # already off: nothing recorded
    assert _events(db) == before
    with db.transaction() as session:
        set_active(session, admin, "Wang", True)
    assert _events(db)[-1][0] == "operator.enable"
    with db.transaction() as session:
        assert sign_in(session, "wang", "12345678").role is Role.CASHIER


def test_an_admin_resets_a_password_without_recording_it(db: Database) -> None:
    admin, cashier = _team(db)
    before = (_operators(db), _events(db))
    with db.transaction() as session, pytest.raises(OperatorRefused, match="at least 8"):
        reset_password(session, admin, "wang", "short")
    with db.transaction() as session, pytest.raises(OperatorRefused, match="no operator"):
        reset_password(session, admin, "nobody", "a long password")
    assert (_operators(db), _events(db)) == before
    with db.transaction() as session:
        reset_password(session, admin, "wang", "a long password")
    assert _events(db)[-1] == ("operator.reset_password", str(cashier.operator_id), None, None)
    with db.transaction() as session:
        assert sign_in(session, "wang", "a long password").username == "wang"
    with db.transaction() as session, pytest.raises(OperatorRefused, match="password is wrong"):
        sign_in(session, "wang", "12345678")
    with db.session() as session:
        stored = session.scalars(
            select(Operator.password_hash).where(Operator.id == cashier.operator_id)
        ).one()
    assert "a long password" not in stored
