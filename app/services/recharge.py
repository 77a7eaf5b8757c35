"""Recharge at the counter: one transaction with an idempotency key.

Order inside the transaction (the same in every money service, so no two wait on each other):
the receipt counter's row lock (it orders every payment of the site one after the other, on
PostgreSQL as on SQLite), then the idempotency key is looked up (after the lock, so a second
press that raced the first sees its commit), then the account's row, then the audit counter.

A key names one recharge: the same key again (same account, amount, payment method and
operator) returns that recharge and credits nothing; the same key with anything else is refused.
Keys people give never begin as the engine's do (``service_checks.check_key``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money, MoneyError
from app.services.audit import record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.ledger import Posted, post_entry
from app.services.notices import tell_recharge
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.receipts import issue_receipt, saved_receipt_pdf, take_receipt_number
from app.services.service_checks import Refused, check_key, check_same_request, key_used
from app.services.settings import counter_settings, load_counter_settings
from app.services.shifts import ensure_shift
from app.store.database import Database
from app.store.failures import explained
from app.store.models import Account, BalancePolicy, LedgerEntry, Receipt
from app.vocabulary import AccountStatus, LedgerKind, PaymentMethod, ReceiptKind, SupplyState

log = logging.getLogger(__name__)


class RechargeRefused(Refused):
    """A recharge that was not made; ``field`` names the input to fix (amount, account,
    method, key) and the message says what to do."""


class ReceiptNotSaved(OSError):
    """The recharge was committed but its PDF could not be written (disk full, permissions, the
    database gone right after the commit): the money is safe; the same key again saves the
    PDF."""

    def __init__(self, done: RechargeDone, cause: Exception) -> None:
        why = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        super().__init__(
            f"Recharge committed as receipt {done.receipt_number:08d}, but its PDF could not be "
            f"saved ({why or type(cause).__name__}). Free disk space or fix the data folder's "
            "permissions, then run it again with the same key to save it; nothing more will "
            "be credited."
        )
        self.done = done


@dataclass(frozen=True)
class RechargeDone:
    receipt_number: int
    account_id: int
    account_number: str
    amount_minor: int
    balance_before_minor: int
    balance_after_minor: int
    currency: str
    replayed: bool  # the key had been used: this is the earlier recharge, nothing credited now
    was_cut_off: bool  # supply was cut before: the runtime restores it


def new_key() -> str:
    """A fresh idempotency key (one per recharge form; a retry reuses it)."""
    return f"rc-{uuid.uuid4().hex}"


def parse_method(text: str) -> PaymentMethod:
    try:
        return PaymentMethod(text.strip().lower())
    except ValueError:
        names = ", ".join(m.value for m in PaymentMethod)
        raise RechargeRefused("method", f"Payment method {text!r}: choose {names}.") from None


def check_amount(session: Session, account: Account, amount_text: str) -> Money:
    """The amount as typed, checked against the currency, the single-recharge cap and the
    account's hoard limit; RechargeRefused("amount", ...) says what is wrong."""
    settings = counter_settings(session)
    currency = settings.currency
    try:
        amount = Money.parse(amount_text, currency)
    except MoneyError as exc:
        raise RechargeRefused("amount", str(exc)) from None
    if amount.minor <= 0:
        raise RechargeRefused("amount", "The amount must be more than zero.")
    cap = Money(settings.recharge_cap_minor, currency)
    if amount > cap:
        raise RechargeRefused(
            "amount",
            f"{amount.display()} is more than the single-recharge cap of {cap.display()}; "
            "take it as several recharges or ask a supervisor to raise the cap.",
        )
    policy = session.get(BalancePolicy, account.policy_id)
    if policy is not None and policy.hoard_limit_minor is not None:
        room = policy.hoard_limit_minor - account.balance_minor
        if amount.minor > room:
            limit = Money(policy.hoard_limit_minor, currency).display()
            most = Money(max(room, 0), currency).display()
            raise RechargeRefused(
                "amount",
                f"Policy {policy.name!r} lets an account hold at most {limit}; "
                f"this account can take at most {most} now.",
            )
    return amount


def find_account(session: Session, number: str) -> Account:
    account = session.scalars(select(Account).where(Account.number == number.strip())).first()
    if account is None:
        raise RechargeRefused("account", f"There is no account {number.strip()!r}; search again.")
    return account


def _replay(
    session: Session,
    key: str,
    account: Account,
    amount_text: str,
    currency: str,
    method: PaymentMethod,
    by: SignedIn,
) -> RechargeDone | None:
    """The recharge ``key`` names, if it is this one again (same account, amount, payment
    method and operator); None for a new key; refused for anything else."""
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.idempotency_key == key)).first()
    if entry is None:
        return None
    receipt = session.scalars(select(Receipt).where(Receipt.ledger_entry_id == entry.id)).first()
    if entry.kind is not LedgerKind.RECHARGE or receipt is None:
        raise key_used(key, RechargeRefused, f"a {entry.kind.value} entry, not a recharge")
    try:
        amount_minor: int | None = Money.parse(amount_text, currency).minor
    except MoneyError:
        amount_minor = None
    check_same_request(
        key,
        RechargeRefused,
        "a recharge",
        {
            "account": entry.account_id,
            "amount": entry.amount_minor,
            "payment method": receipt.method,
            "operator": entry.operator_id,
        },
        {
            "account": account.id,
            "amount": amount_minor,
            "payment method": method,
            "operator": by.operator_id,
        },
    )
    return RechargeDone(
        receipt.number,
        account.id,
        account.number,
        entry.amount_minor,
        receipt.balance_before_minor,
        receipt.balance_after_minor,
        currency,
        replayed=True,
        was_cut_off=False,
    )


def pay_in(
    session: Session,
    by: SignedIn,
    account: Account,
    amount_minor: int,
    method: PaymentMethod | None,
    key: str,
    reason: str,
    *,
    kind: LedgerKind = LedgerKind.RECHARGE,
    receipt_kind: ReceiptKind = ReceiptKind.RECHARGE,
    approver: SignedIn | None = None,
    receipt_reason: str = "",
    extra: dict[str, object] | None = None,
) -> tuple[Posted, int]:
    """Money over the counter, inside the caller's transaction (which holds the receipt
    counter's lock): an entry under ``key`` and its numbered receipt in the operator's shift
    (a recharge by default; a settlement says so). Returns the posting and the receipt number."""
    shift = ensure_shift(session, by)
    number = take_receipt_number(session)
    posted = post_entry(
        session,
        account.id,
        kind,
        amount_minor,
        reason=reason,
        reference=f"receipt {number}",
        operator_id=by.operator_id,
        idempotency_key=key,
        approved_by_id=None if approver is None else approver.operator_id,
    )
    issue_receipt(
        session,
        number,
        kind=receipt_kind,
        account=account,
        entry_id=posted.entry_id,
        by=by,
        shift_id=shift.id,
        method=method,
        amount_minor=amount_minor,
        balance_before_minor=posted.balance_before_minor,
        reason=receipt_reason,
        approved_by=approver.display_name if approver else "",
        extra=extra,
    )
    return posted, number


def recharge(
    db: Database,
    by: SignedIn,
    account_number: str,
    amount_text: str,
    method: PaymentMethod,
    key: str,
) -> RechargeDone:
    """Credit the account and issue the receipt, once per ``key``."""
    by.require(Action.RECHARGE)
    key = check_key(key, RechargeRefused)
    # A full disk or a lock held past the busy timeout is said so (StoreError), not as a driver
    # error: the transaction rolled back and the same key may be tried again.
    with explained(db), db.transaction() as session:
        lock_counter(session, RECEIPT)
        account = find_account(session, account_number)
        currency = counter_settings(session).currency
        done = _replay(session, key, account, amount_text, currency, method, by)
        if done is not None:
            return done
        if account.status is not AccountStatus.OPEN:
            raise RechargeRefused(
                "account", f"Account {account.number} is closed; open a new account to pay in."
            )
        amount = check_amount(session, account, amount_text)
        was_cut_off = account.supply_state is SupplyState.CUT_OFF
        posted, number = pay_in(
            session, by, account, amount.minor, method, key, f"recharge, {method.value}"
        )
        tell_recharge(session, account, amount.minor, number, datetime.now(UTC))
        record_audit(
            session,
            by,
            "account.recharge",
            "account",
            account.number,
            {"balance": posted.balance_before_minor},
            {
                "balance": posted.balance_after_minor,
                "amount": amount.minor,
                "method": method.value,
                "receipt": number,
            },
        )
        return RechargeDone(
            number,
            account.id,
            account.number,
            amount.minor,
            posted.balance_before_minor,
            posted.balance_after_minor,
            currency,
            replayed=False,
            was_cut_off=was_cut_off,
        )


def recharge_with_receipt(
    db: Database,
    by: SignedIn,
    data_dir: Path,
    account_number: str,
    amount_text: str,
    method: PaymentMethod,
    key: str,
) -> tuple[RechargeDone, Path]:
    """``recharge``, then its receipt's PDF saved in the data folder (after the commit: a
    failure there never undoes the money, and never passes for a recharge not made: any of them
    is ReceiptNotSaved, which carries the committed recharge; the PDF is made again on the
    next call with the key)."""
    done = recharge(db, by, account_number, amount_text, method, key)
    try:
        layout = load_counter_settings(db).receipt_layout
        return done, saved_receipt_pdf(db, data_dir, done.receipt_number, layout)
    except Exception as exc:  # the money is in: the caller must say so, whatever failed
        log.warning("receipt %s committed, its PDF not saved: %r", done.receipt_number, exc)
        raise ReceiptNotSaved(done, exc) from exc
