"""Idempotency keys of every money step: never empty, never in the engine's namespace (a person's
key could otherwise take a fee's key and stop the engine's billing), and a key names one request:
the same key with the same facts replays it, with any other fact it is refused and nothing is
written. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from app.services.account_life import AccountRefused, move_account, open_account
from app.services.account_settlement import settle_account
from app.services.corrections import CorrectionRefused, adjust, refund, reverse
from app.services.ledger_verify import verify_ledger
from app.services.recharge import RechargeRefused, new_key, recharge
from app.services.service_checks import Refused
from app.store.database import Database
from app.store.models import Account, AuditEvent, LedgerEntry, Receipt
from app.vocabulary import PaymentMethod, Role, Utility
from tests.integration.services.counter_support import account, small_site, who

CASH, CARD = PaymentMethod.CASH, PaymentMethod.CARD
PLANS = {Utility.ELECTRICITY: "Dormitory electricity", Utility.WATER: "Tiered water"}


@pytest.fixture
def site(db: Database) -> Database:
    return small_site(db)


def written(db: Database) -> tuple[int, int, int, int]:
    """Ledger entries, receipts, audit events, the sum of every balance: what a refusal must
    leave as it was."""
    with db.session() as session:
        return (
            session.scalar(select(func.count(LedgerEntry.id))) or 0,
            session.scalar(select(func.count(Receipt.id))) or 0,
            session.scalar(select(func.count(AuditEvent.id))) or 0,
            session.scalar(select(func.sum(Account.balance_minor))) or 0,
        )


def refused(db: Database, error: type[Refused], said: str, step: Callable[[], object]) -> None:
    before = written(db)
    with pytest.raises(error, match=said) as caught:
        step()
    assert caught.value.field == "key"
    assert written(db) == before


def emptied_room(db: Database) -> str:
    """Settle the third account: its room is empty, to open an account in."""
    third = account(db, 2)
    settle_account(db, who(db, Role.OFFICE), third.number, CASH, new_key())
    return room_of(db, third.id)


def room_of(db: Database, account_id: int) -> str:
    with db.session() as session:
        room = session.get_one(Account, account_id).room
        assert room is not None
        return room.label


@pytest.mark.parametrize("key", ["fee:1:1:0:2026-12-01", "Fee:2:3:0:2027-01-01", "  fee:9  "])
def test_no_money_step_takes_a_key_in_the_engines_namespace(site: Database, key: str) -> None:
    cashier, office = who(site, Role.CASHIER), who(site, Role.OFFICE)
    supervisor = who(site, Role.SUPERVISOR)
    first = account(site)
    room = emptied_room(site)
    paid = recharge(site, cashier, first.number, "50", CASH, new_key())
    own = "are MeterDesk's own"
    steps: list[tuple[type[Refused], Callable[[], object]]] = [
        (RechargeRefused, lambda: recharge(site, cashier, first.number, "5", CASH, key)),
        (
            CorrectionRefused,
            lambda: refund(site, supervisor, first.number, "5", CASH, "left", None, key),
        ),
        (CorrectionRefused, lambda: adjust(site, supervisor, first.number, "5", "fix", None, key)),
        (
            CorrectionRefused,
            lambda: reverse(
                site, supervisor, paid_entry(site, paid.receipt_number), "x", None, key
            ),
        ),
        (
            AccountRefused,
            lambda: open_account(
                site, office, "Li Wei", "", "", room, PLANS, "Student dormitory", "10", CASH, key
            ),
        ),
        (AccountRefused, lambda: move_account(site, office, first.number, room, key)),
        (AccountRefused, lambda: settle_account(site, office, first.number, CASH, key)),
    ]
    for error, step in steps:
        refused(site, error, own, step)


def paid_entry(db: Database, receipt_number: int) -> int:
    with db.session() as session:
        entry_id = session.scalar(
            select(Receipt.ledger_entry_id).where(Receipt.number == receipt_number)
        )
        assert entry_id is not None
        return entry_id


@pytest.mark.parametrize("key", ["", "   ", "\t\n"])
def test_an_empty_key_is_refused_not_taken_as_no_key(site: Database, key: str) -> None:
    first = account(site)
    cashier = who(site, Role.CASHIER)
    for _ in range(2):
        refused(
            site,
            RechargeRefused,
            "must have 1 to 80 characters; it is empty",
            lambda: recharge(site, cashier, first.number, "5", CASH, key),
        )


def test_a_recharge_key_replays_only_the_same_recharge(site: Database) -> None:
    cashier, supervisor = who(site, Role.CASHIER), who(site, Role.SUPERVISOR)
    first = account(site)
    done = recharge(site, cashier, first.number, "40", CASH, "K-1")
    for what, step in (
        ("payment method", lambda: recharge(site, cashier, first.number, "40", CARD, "K-1")),
        ("operator", lambda: recharge(site, supervisor, first.number, "40", CASH, "K-1")),
        ("amount", lambda: recharge(site, cashier, first.number, "41", CASH, "K-1")),
        (
            "account",
            lambda: recharge(site, cashier, account(site, 1).number, "40", CASH, "K-1"),
        ),
        (
            "payment method and operator",
            lambda: recharge(site, supervisor, first.number, "40", CARD, "K-1"),
        ),
    ):
        refused(site, RechargeRefused, f"a recharge with another {what};", step)
    again = recharge(site, cashier, first.number, "40.00", CASH, "  K-1 ")
    assert again.replayed
    assert again.receipt_number == done.receipt_number
    # A recharge's key is not a refund's.
    supervisor_refund = lambda: refund(  # noqa: E731
        site, supervisor, first.number, "40", CASH, "left", None, "K-1"
    )
    refused(site, CorrectionRefused, "already used for a recharge entry", supervisor_refund)
    assert verify_ledger(site).ok


def test_a_correction_key_replays_only_the_same_correction(site: Database) -> None:
    supervisor, admin = who(site, Role.SUPERVISOR), who(site, Role.ADMIN)
    first = account(site)
    recharge(site, who(site, Role.CASHIER), first.number, "80", CASH, new_key())
    done = refund(site, supervisor, first.number, "20", CASH, "moving out", None, "R-1")
    for what, step in (
        (
            "payment method",
            lambda: refund(site, supervisor, first.number, "20", CARD, "moving out", None, "R-1"),
        ),
        (
            "reason",
            lambda: refund(site, supervisor, first.number, "20", CASH, "other", None, "R-1"),
        ),
        (
            "operator and approver",
            lambda: refund(site, admin, first.number, "20", CASH, "moving out", None, "R-1"),
        ),
    ):
        refused(site, CorrectionRefused, f"a refund with another {what};", step)
    again = refund(site, supervisor, first.number, "20", CASH, " moving  out ", None, "R-1")
    assert (again.replayed, again.entry_id) == (True, done.entry_id)
    adjust(site, supervisor, first.number, "-3", "meter fault", None, "A-1")
    refused(
        site,
        CorrectionRefused,
        "an adjustment with another amount;",
        lambda: adjust(site, supervisor, first.number, "-4", "meter fault", None, "A-1"),
    )
    assert verify_ledger(site).ok


def test_account_step_keys_replay_only_the_same_step(site: Database) -> None:
    office, supervisor = who(site, Role.OFFICE), who(site, Role.SUPERVISOR)
    room = emptied_room(site)
    first, second = account(site), account(site, 1)
    cashier = who(site, Role.CASHIER)
    for number in (first.number, first.number, second.number):
        if account(site).balance_minor == 0 or number == second.number:
            recharge(site, cashier, number, "30", CASH, new_key())

    opened = open_account(
        site, office, "Li Wei", "", "", room, PLANS, "Student dormitory", "10", CASH, "O-1"
    )
    for what, step in (
        (
            "opening balance",
            lambda: open_account(
                site, office, "Li Wei", "", "", room, PLANS, "Student dormitory", "12", CASH, "O-1"
            ),
        ),
        (
            "operator",
            lambda: open_account(
                site,
                supervisor,
                "Li Wei",
                "",
                "",
                room,
                PLANS,
                "Student dormitory",
                "10",
                CASH,
                "O-1",
            ),
        ),
        (
            "holder",
            lambda: open_account(
                site,
                office,
                "Wang Fang",
                "",
                "",
                room,
                PLANS,
                "Student dormitory",
                "10",
                CASH,
                "O-1",
            ),
        ),
    ):
        refused(site, AccountRefused, f"an opening with another {what};", step)
    replay = open_account(
        site, office, "Li Wei", "", "", room, PLANS, "Student dormitory", "10", CASH, "O-1"
    )
    assert (replay.replayed, replay.account_number) == (True, opened.account_number)

    # Settle the first account (its room empties), then move the second one with a key.
    settled = settle_account(site, office, first.number, CASH, "S-1")
    refused(
        site,
        AccountRefused,
        "a settlement with another payment method;",
        lambda: settle_account(site, office, first.number, CARD, "S-1"),
    )
    assert settle_account(site, office, first.number, CASH, "S-1").replayed
    assert settled.amount_minor != 0
    free = room_of(site, first.id)
    moved = move_account(site, office, second.number, free, "M-1")
    assert not moved.replayed
    refused(
        site,
        AccountRefused,
        "a move with another room;",
        lambda: move_account(site, office, second.number, room, "M-1"),
    )
    assert move_account(site, office, second.number, free, "M-1").replayed
    assert verify_ledger(site).ok
