"""Checks the money and account services share: idempotency keys (and what a key names once it
is used), reasons, amounts, the locked account row, and a named approver who is still allowed to
approve."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError
from app.services.operators import SignedIn
from app.services.permissions import Action, PermissionDenied, allowed
from app.store.models import Account, LedgerEntry, Operator, column_length

KEY_MAX = column_length(LedgerEntry.idempotency_key)
REASON_MAX = 300

# The engine's own idempotency keys begin with one of these (a periodic fee's is
# ``fee:ACCOUNT:PLAN:FEE:CYCLE``, see ``runtime.fee_billing``). Keys given by people share the
# ledger's one unique column, and internal ids are small and guessable: a key a person gives may
# never begin with them, or one recharge could take the key of a fee the engine is about to
# charge. Any letter case is refused, so no key even looks like the engine's.
FEE_KEY_PREFIX = "fee:"
ENGINE_KEY_PREFIXES = (FEE_KEY_PREFIX,)


class Refused(ValueError):
    """Something not done; ``field`` names the input to fix and the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_key(key: str, error: type[Refused]) -> str:
    """A key given by a person, without surrounding blanks: never empty (an empty key is no key
    at all, and would let a retry credit twice), never longer than the column, never in the
    engine's namespace."""
    key = key.strip()
    if not key or len(key) > KEY_MAX:
        said = "it is empty" if not key else f"it has {len(key)}"
        raise error(
            "key",
            f"The idempotency key must have 1 to {KEY_MAX} characters; {said}. Give one key "
            "per payment, the same for every retry of it.",
        )
    reserved = next((p for p in ENGINE_KEY_PREFIXES if key.casefold().startswith(p)), None)
    if reserved is not None:
        raise error(
            "key",
            f"Keys beginning with {reserved!r} are MeterDesk's own (its periodic fees); "
            "give a key that begins otherwise.",
        )
    return key


def check_same_request(
    key: str,
    error: type[Refused],
    what: str,
    earlier: Mapping[str, object],
    now: Mapping[str, object],
) -> None:
    """A key names one request. Used again, it must come with the same facts (account, amount,
    payment method, operator...: the keys of ``now``, named as a person reads them), and then
    the earlier result is replayed; with any other fact it is refused, naming what differs, so
    a key typed twice by mistake never passes for a retry."""
    differ = [name for name, value in now.items() if earlier.get(name) != value]
    if not differ:
        return
    listed = differ[0] if len(differ) == 1 else f"{', '.join(differ[:-1])} and {differ[-1]}"
    raise error(
        "key",
        f"The key {key!r} was already used for {what} with another {listed}; nothing was done "
        "now. Give a new key for a new request, or repeat a retry exactly as it was first made.",
    )


def key_used(key: str, error: type[Refused], what: str) -> Refused:
    """The refusal of a key that already names something else (``what``: "a refund")."""
    return error("key", f"The key {key!r} was already used for {what}; give a new key.")


def check_reason(reason: str, error: type[Refused]) -> str:
    text = " ".join(reason.split())
    if not text:
        raise error("reason", "Give a reason: say why the balance is corrected, for the record.")
    if len(text) > REASON_MAX:
        raise error(
            "reason", f"The reason has {len(text)} characters; say it in at most {REASON_MAX}."
        )
    return text


def locked_account(session: Session, number: str, error: type[Refused]) -> Account:
    account = session.scalars(
        select(Account).where(Account.number == number.strip()).with_for_update()
    ).first()
    if account is None:
        raise error("account", f"There is no account {number.strip()!r}; search again.")
    return account


def parse_money(text: str, currency: str, error: type[Refused]) -> Money:
    try:
        return Money.parse(text, currency)
    except MoneyError as exc:
        raise error("amount", str(exc)) from None


def confirm_approver(session: Session, approver: SignedIn) -> None:
    """The approver's operator row still allows it (not switched off, role not changed)."""
    row = session.get(Operator, approver.operator_id)
    if row is None or not row.active or not allowed(row.role, Action.APPROVE):
        raise PermissionDenied(
            f"{approver.display_name} may no longer approve (switched off or role changed); "
            "ask another supervisor to sign in on the spot."
        )
