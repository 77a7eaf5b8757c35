"""Sign-in against guessing: 5 wrong passwords in a row lock a user name for 15 minutes (known
or not, said the same way), every failure is logged and audited without the password, a name
nobody has costs one hash verification as a real one does, "switched off" is said only after
the right password, and an administrator can lift a lock. The clock is injected: no sleeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.services import operators as operators_module
from app.services.operators import (
    OperatorRefused,
    SignedIn,
    add_operator,
    create_first_admin,
    list_operators,
    login,
    set_active,
    unlock,
)
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import AuditEvent
from app.vocabulary import Role, SignInPlace

PASSWORD = "correct horse"
WRONG = "The user name or the password is wrong; try again."


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def _hh_mm(at: datetime) -> str:
    return at.astimezone().strftime("%H:%M")  # no site yet: this computer's clock


@pytest.fixture
def site(db: Database) -> SignedIn:
    with db.transaction() as session:
        admin = create_first_admin(session, "admin", "Admin", PASSWORD)
        add_operator(session, admin, "wang", "Wang Fang", Role.CASHIER, PASSWORD)
    return admin


def _refusal(db: Database, name: str, password: str, clock: Clock) -> str:
    with pytest.raises(OperatorRefused) as refused:
        login(db, name, password, where=SignInPlace.COMMAND_LINE, clock=clock)
    return str(refused.value)


def _actions(db: Database) -> list[tuple[str, str, dict[str, object] | None]]:
    with db.session() as session:
        return [
            (e.action, e.target_id, e.after)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action.startswith("sign_in.")
        ]


def test_five_wrong_passwords_lock_the_name_for_fifteen_minutes(
    db: Database, site: SignedIn
) -> None:
    clock = Clock()
    for _ in range(4):
        assert _refusal(db, "wang", "guess", clock) == WRONG
        clock.advance(seconds=1)
    fifth = _refusal(db, "wang", "guess", clock)
    until = _hh_mm(clock.now + timedelta(minutes=15))
    assert fifth.startswith("The user name or the password is wrong. wang is locked until")
    assert f"locked until {until} after 5 wrong passwords" in fifth
    assert "ask an administrator to unlock it" in fifth
    clock.advance(minutes=14, seconds=59)
    locked = _refusal(db, "wang", PASSWORD, clock)  # even the right password
    assert locked.startswith(f"wang is locked until {until} after 5 wrong passwords")
    clock.advance(seconds=2)
    assert login(db, "wang", PASSWORD, clock=clock).username == "wang"


def test_a_right_password_ends_the_run_of_wrong_ones(db: Database, site: SignedIn) -> None:
    clock = Clock()
    for _ in range(4):
        _refusal(db, "wang", "guess", clock)
    login(db, "wang", PASSWORD, clock=clock)
    for _ in range(4):
        assert _refusal(db, "wang", "guess", clock) == WRONG
    assert login(db, "wang", PASSWORD, clock=clock).role is Role.CASHIER


def test_a_name_nobody_has_is_locked_and_said_as_a_real_one(db: Database, site: SignedIn) -> None:
    clock = Clock()
    real = [_refusal(db, "wang", "guess", clock) for _ in range(5)]
    made_up = [_refusal(db, "wong", "guess", clock) for _ in range(5)]
    assert [text.replace("wang", "wong") for text in real] == made_up
    assert _refusal(db, "wong", "guess", clock).startswith("wong is locked until")


def test_every_sign_in_verifies_one_real_hash_whatever_the_name(
    db: Database, site: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal work for a name nobody has: the time taken does not tell which names exist."""
    verified: list[str] = []
    real_verify = operators_module.verify_password

    def counting(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(operators_module, "verify_password", counting)
    clock = Clock()
    tries = [("nobody", "guess"), ("wang", "guess"), ("ad\u200bmin", "guess"), ("x" * 500, "g")]
    for name, password in tries:
        assert _refusal(db, name, password, clock) == WRONG
    login(db, "wang", PASSWORD, clock=clock)
    assert len(verified) == len(tries) + 1
    assert all(h.startswith("$argon2id$") for h in verified)


def test_switched_off_is_said_only_after_the_right_password(db: Database, site: SignedIn) -> None:
    with db.transaction() as session:
        set_active(session, site, "wang", False)
    clock = Clock()
    assert _refusal(db, "wang", "guess", clock) == WRONG
    assert "switched off" in _refusal(db, "wang", PASSWORD, clock)


def test_failed_sign_ins_are_logged_and_audited_without_the_password(
    db: Database, site: SignedIn, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    caplog.set_level(logging.WARNING, logger="app.services.operators")
    for _ in range(5):
        _refusal(db, "Wang", "s3cret-guess", clock)
    with pytest.raises(OperatorRefused):
        login(db, "nobody", "other-guess", where=SignInPlace.CONSOLE, clock=clock)
    failed = [a for a in _actions(db) if a[0] == "sign_in.failed"]
    assert [(t, after) for _, t, after in failed] == [
        *[("wang", {"where": "command line", "in_a_row": n}) for n in range(1, 6)],
        ("nobody", {"where": "console", "in_a_row": 1}),
    ]
    locked = [a for a in _actions(db) if a[0] == "sign_in.locked"]
    assert [target for _, target, _ in locked] == ["wang"]
    text = caplog.text
    assert "failed sign-in as 'Wang' at the command line" in text
    assert "failed sign-in as 'nobody' at the console" in text
    assert "is locked until" in text
    with db.session() as session:
        stored = repr([(e.before, e.after) for e in session.scalars(select(AuditEvent))])
    for secret in ("s3cret-guess", "other-guess"):
        assert secret not in text
        assert secret not in stored


def test_an_administrator_lifts_a_lock_and_others_may_not(db: Database, site: SignedIn) -> None:
    clock = Clock()
    for _ in range(5):
        _refusal(db, "wang", "guess", clock)
    assert list_operators(db, clock=clock)[1]["locked_until"] is not None
    with db.transaction() as session:
        cashier = add_operator(session, site, "li", "Li", Role.CASHIER, PASSWORD)
    with db.transaction() as session, pytest.raises(PermissionDenied):
        unlock(session, cashier, "wang", clock=clock)
    with db.transaction() as session:
        assert unlock(session, site, "WANG", clock=clock)
    with db.transaction() as session:
        assert not unlock(session, site, "wang", clock=clock)  # nothing left to lift
    assert login(db, "wang", PASSWORD, clock=clock).username == "wang"
    assert list_operators(db, clock=clock)[2]["locked_until"] is None
    assert [a for a in _actions(db) if a[0] == "sign_in.unlock"] != []
