"""Operator names that look like another or hide characters: a full-width "admin" is the admin
(refused as a second one, and signs in as the admin), zero-width, right-to-left and control
characters are refused, and a display name is checked for length and hidden characters before
the database sees it (a 100,000-character one crashed on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.services.operators import (
    OperatorRefused,
    SignedIn,
    add_operator,
    create_first_admin,
    login,
)
from app.store.database import Database
from app.store.models import Operator
from app.vocabulary import Role

PASSWORD = "correct horse"
FULL_WIDTH_ADMIN = "\uff41\uff44\uff4d\uff49\uff4e"


@pytest.fixture
def admin(db: Database) -> SignedIn:
    with db.transaction() as session:
        return create_first_admin(session, "admin", "Admin", PASSWORD)


def _operators(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Operator)) or 0


def test_a_full_width_admin_is_the_admin(db: Database, admin: SignedIn) -> None:
    with db.transaction() as session, pytest.raises(OperatorRefused, match="already an operator"):
        add_operator(session, admin, FULL_WIDTH_ADMIN, "Fake", Role.ADMIN, PASSWORD)
    assert login(db, FULL_WIDTH_ADMIN, PASSWORD).operator_id == admin.operator_id
    with db.transaction() as session:
        added = add_operator(
            session, admin, "\uff57\uff41\uff4e\uff47", "W", Role.CASHIER, PASSWORD
        )
    assert added.username == "wang"  # stored as it looks


@pytest.mark.parametrize(
    "name",
    [
        "ad\u200bmin",  # zero-width space
        "ad\u200dmin",  # zero-width joiner
        "\u202eadmin",  # right-to-left override
        "admin\u200f",  # right-to-left mark
        "ad\x07min",  # control character (bell)
        "ad\x00min",  # NUL
        "\ufeffadmin",  # byte-order mark
    ],
)
def test_hidden_characters_in_a_user_name_are_refused(
    db: Database, admin: SignedIn, name: str
) -> None:
    with db.transaction() as session, pytest.raises(OperatorRefused) as refused:
        add_operator(session, admin, name, "Someone", Role.ADMIN, PASSWORD)
    assert "cannot be seen or that reorder the text" in str(refused.value)
    assert "type the name with visible letters" in str(refused.value)
    assert _operators(db) == 1


def test_a_display_name_too_long_or_with_hidden_characters_is_refused(
    db: Database, admin: SignedIn
) -> None:
    for display, said in (
        ("x" * 100_000, "The full name has 100000 characters; give at most 120."),
        ("Wang\u202eFang", "The full name holds characters that cannot be seen"),
        ("Wang\x1b[31mFang", "The full name holds characters that cannot be seen"),
    ):
        with db.transaction() as session, pytest.raises(OperatorRefused) as refused:
            add_operator(session, admin, "wang", display, Role.CASHIER, PASSWORD)
        assert str(refused.value).startswith(said)
    with db.transaction() as session:
        assert add_operator(session, admin, "wang", "王芳 " + "x" * 117, Role.CASHIER, PASSWORD)
    assert _operators(db) == 2


def test_the_first_admin_is_checked_the_same_way(db: Database) -> None:
    with db.transaction() as session, pytest.raises(OperatorRefused, match="at most 120"):
        create_first_admin(session, "admin", "y" * 121, PASSWORD)
    with db.transaction() as session, pytest.raises(OperatorRefused, match="cannot be seen"):
        create_first_admin(session, "ad\u2060min", "Admin", PASSWORD)
    assert _operators(db) == 0
