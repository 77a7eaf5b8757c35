"""Refunds, manual adjustments and reversals: money corrections that need a supervisor.

Each is one transaction in the order of every money service (recharge.py): the receipt
counter's row lock first, then the idempotency key, then the account's row, then the audit.
The operator who acts must hold the action (refund: Action.REFUND, adjustment and reversal:
Action.ADJUST), and someone who may approve (Action.APPROVE) approves: the operator himself
when his role may, else a different supervisor signed in on the spot. Entries name both
(``operator_id``, ``approved_by_id``) and carry the reason; a reversal names the entry it undoes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money
from app.queries.site_facts import site_currency
from app.services.audit import record_audit
from app.services.counters import RECEIPT, lock_counter
from app.services.ledger import Posted, post_entry
from app.services.operators import SignedIn
from app.services.permissions import Action, PermissionDenied, allowed
from app.services.receipts import issue_receipt, take_receipt_number
from app.services.service_checks import (
    Refused,
    check_key,
    check_reason,
    check_same_request,
    confirm_approver,
    key_used,
    locked_account,
    parse_money,
)
from app.services.shifts import ensure_shift
from app.store.database import Database
from app.store.models import Account, LedgerEntry, Receipt
from app.vocabulary import AccountStatus, LedgerKind, PaymentMethod, ReceiptKind

REVERSIBLE = (LedgerKind.RECHARGE, LedgerKind.ADJUSTMENT, LedgerKind.REFUND)


class CorrectionRefused(Refused):
    """A refund, adjustment or reversal that was not made (nothing was written)."""


@dataclass(frozen=True)
class CorrectionDone:
    kind: LedgerKind  # REFUND, ADJUSTMENT or REVERSAL
    entry_id: int
    receipt_number: int | None  # None for a reversal: it issues no receipt
    account_id: int
    account_number: str
    amount_minor: int  # signed, as posted
    balance_before_minor: int
    balance_after_minor: int
    currency: str
    approved_by_id: int
    reverses_id: int | None
    replayed: bool  # the key had been used: this is the earlier correction, nothing moved now


# -- shared checks (account_life uses them too) ----------------------------------------------


def approval(by: SignedIn, approver: SignedIn | None, what: str) -> SignedIn:
    """Who approves ``what`` ("a refund"): ``by`` when his role may approve and nobody else is
    named, else ``approver``, who must be someone else whose role may approve."""
    if approver is None or approver.operator_id == by.operator_id:
        if allowed(by.role, Action.APPROVE):
            return by
        raise PermissionDenied(
            f"{what[0].upper()}{what[1:]} needs a supervisor's approval: "
            "ask a supervisor to sign in on the spot."
        )
    if not allowed(approver.role, Action.APPROVE):
        raise PermissionDenied(
            f"{approver.display_name} ({approver.role.value}) may not approve {what}; "
            "ask a supervisor to sign in on the spot."
        )
    return approver


def _open(account: Account, doing: str) -> None:
    if account.status is not AccountStatus.OPEN:
        raise CorrectionRefused(
            "account", f"Account {account.number} is closed; it cannot take {doing}."
        )


# -- the corrections ---------------------------------------------------------------------------


def refund(
    db: Database,
    by: SignedIn,
    account_number: str,
    amount_text: str,
    method: PaymentMethod,
    reason: str,
    approver: SignedIn | None,
    key: str,
) -> CorrectionDone:
    """Pay money back out of the balance (at most the balance), with a refund receipt."""
    by.require(Action.REFUND)
    key, why = check_key(key, CorrectionRefused), check_reason(reason, CorrectionRefused)
    ok = approval(by, approver, "a refund")
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        account = locked_account(session, account_number, CorrectionRefused)
        currency = site_currency(session)
        amount = parse_money(amount_text, currency, CorrectionRefused)
        done = _replay(
            session,
            key,
            LedgerKind.REFUND,
            account,
            -amount.minor,
            None,
            currency,
            (by, ok, method, why),
        )
        if done is not None:
            return done
        confirm_approver(session, ok)
        _open(account, "a refund")
        if amount.minor <= 0:
            raise CorrectionRefused("amount", "The refund must be more than zero.")
        balance = Money(account.balance_minor, currency)
        if balance.minor <= 0:
            raise CorrectionRefused(
                "amount",
                f"Account {account.number} has no money to refund: its balance is "
                f"{balance.display()}.",
            )
        if amount > balance:
            raise CorrectionRefused(
                "amount",
                f"The refund of {amount.display()} is more than the balance of account "
                f"{account.number} ({balance.display()}); refund at most {balance.display()}.",
            )
        return _post(
            session, by, ok, account, LedgerKind.REFUND, -amount.minor, why, key, currency, method
        )


def adjust(
    db: Database,
    by: SignedIn,
    account_number: str,
    amount_text: str,
    reason: str,
    approver: SignedIn | None,
    key: str,
) -> CorrectionDone:
    """Correct the balance by a signed amount ("-12.30", "+5"), with an adjustment receipt."""
    by.require(Action.ADJUST)
    key, why = check_key(key, CorrectionRefused), check_reason(reason, CorrectionRefused)
    ok = approval(by, approver, "an adjustment")
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        account = locked_account(session, account_number, CorrectionRefused)
        currency = site_currency(session)
        amount = parse_money(amount_text, currency, CorrectionRefused)
        done = _replay(
            session,
            key,
            LedgerKind.ADJUSTMENT,
            account,
            amount.minor,
            None,
            currency,
            (by, ok, None, why),
        )
        if done is not None:
            return done
        confirm_approver(session, ok)
        _open(account, "an adjustment")
        if amount.minor == 0:
            raise CorrectionRefused(
                "amount",
                "An adjustment of zero changes nothing; give a signed amount such as -12.30 or +5.",
            )
        return _post(
            session, by, ok, account, LedgerKind.ADJUSTMENT, amount.minor, why, key, currency, None
        )


def reverse(
    db: Database,
    by: SignedIn,
    entry_id: int,
    reason: str,
    approver: SignedIn | None,
    key: str,
) -> CorrectionDone:
    """Undo one earlier recharge, adjustment or refund entry exactly (a REVERSAL entry naming
    it); no receipt is issued."""
    by.require(Action.ADJUST)
    key, why = check_key(key, CorrectionRefused), check_reason(reason, CorrectionRefused)
    ok = approval(by, approver, "a reversal")
    with db.transaction() as session:
        lock_counter(session, RECEIPT)
        target = session.get(LedgerEntry, entry_id)
        if target is None:
            raise CorrectionRefused(
                "entry", f"There is no ledger entry {entry_id}; check the number on the statement."
            )
        account = session.scalars(
            select(Account).where(Account.id == target.account_id).with_for_update()
        ).one()
        currency = site_currency(session)
        done = _replay(
            session,
            key,
            LedgerKind.REVERSAL,
            account,
            -target.amount_minor,
            target.id,
            currency,
            (by, ok, None, why),
        )
        if done is not None:
            return done
        confirm_approver(session, ok)
        _check_reversible(session, target)
        _open(account, "a reversal")
        return _post(
            session,
            by,
            ok,
            account,
            LedgerKind.REVERSAL,
            -target.amount_minor,
            why,
            key,
            currency,
            None,
            reverses=target,
        )


def _check_reversible(session: Session, target: LedgerEntry) -> None:
    n = target.id
    if target.kind is LedgerKind.CONSUMPTION:
        raise CorrectionRefused(
            "entry",
            f"Entry {n} is usage billed from the meters; usage is not reversed. "
            "Correct a wrong charge with an adjustment.",
        )
    if target.kind not in REVERSIBLE:
        raise CorrectionRefused(
            "entry",
            f"Entry {n} ({target.kind.value}) cannot be reversed: only recharge, adjustment "
            "and refund entries can. Correct it with an adjustment.",
        )
    earlier = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == n))
    if earlier is not None:
        raise CorrectionRefused(
            "entry",
            f"Entry {n} was already reversed by entry {earlier}; an entry is reversed only once.",
        )


def _post(
    session: Session,
    by: SignedIn,
    approver: SignedIn,
    account: Account,
    kind: LedgerKind,
    amount_minor: int,
    reason: str,
    key: str,
    currency: str,
    method: PaymentMethod | None,
    *,
    reverses: LedgerEntry | None = None,
) -> CorrectionDone:
    number = None if reverses is not None else take_receipt_number(session)
    posted = post_entry(
        session,
        account.id,
        kind,
        amount_minor,
        reason=reason,
        reference=f"receipt {number}" if reverses is None else f"reverses entry {reverses.id}",
        operator_id=by.operator_id,
        idempotency_key=key,
        reverses_id=None if reverses is None else reverses.id,
        approved_by_id=approver.operator_id,
    )
    if number is not None:
        issue_receipt(
            session,
            number,
            kind=ReceiptKind.REFUND if kind is LedgerKind.REFUND else ReceiptKind.ADJUSTMENT,
            account=account,
            entry_id=posted.entry_id,
            by=by,
            shift_id=ensure_shift(session, by).id,  # every receipt lands in a shift
            method=method,
            amount_minor=amount_minor,
            balance_before_minor=posted.balance_before_minor,
            reason=reason,
            approved_by=approver.display_name,
        )
    after: dict[str, object] = {
        "balance": posted.balance_after_minor,
        "amount": amount_minor,
        "entry": posted.entry_id,
        "reason": reason,
        "approved_by": approver.operator_id,
    }
    if method is not None:
        after["method"] = method.value
    if number is not None:
        after["receipt"] = number
    if reverses is not None:
        after["reverses"] = reverses.id
    action = {LedgerKind.REFUND: "refund", LedgerKind.ADJUSTMENT: "adjust"}.get(kind, "reverse")
    record_audit(
        session,
        by,
        f"account.{action}",
        "account",
        account.number,
        {"balance": posted.balance_before_minor},
        after,
    )
    return _done(
        account,
        kind,
        amount_minor,
        posted,
        number,
        currency,
        approver.operator_id,
        reverses.id if reverses is not None else None,
        replayed=False,
    )


def _done(
    account: Account,
    kind: LedgerKind,
    amount_minor: int,
    posted: Posted,
    number: int | None,
    currency: str,
    approved_by_id: int,
    reverses_id: int | None,
    *,
    replayed: bool,
) -> CorrectionDone:
    return CorrectionDone(
        kind,
        posted.entry_id,
        number,
        account.id,
        account.number,
        amount_minor,
        posted.balance_before_minor,
        posted.balance_after_minor,
        currency,
        approved_by_id,
        reverses_id,
        replayed,
    )


def _replay(
    session: Session,
    key: str,
    kind: LedgerKind,
    account: Account,
    amount_minor: int,
    reverses_id: int | None,
    currency: str,
    asked: tuple[SignedIn, SignedIn, PaymentMethod | None, str],
) -> CorrectionDone | None:
    """The correction ``key`` names, if it is this one again: the same kind, account, amount
    (or entry reversed), operator, approver, payment method and reason (``asked``: who acts, who
    approves, the method, the reason); None for a new key; refused for anything else."""
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.idempotency_key == key)).first()
    if entry is None:
        return None
    if entry.kind is not kind:
        raise key_used(key, CorrectionRefused, f"a {entry.kind.value} entry")
    receipt = session.scalars(select(Receipt).where(Receipt.ledger_entry_id == entry.id)).first()
    by, approver, method, reason = asked
    what = {
        LedgerKind.REFUND: "a refund",
        LedgerKind.ADJUSTMENT: "an adjustment",
    }.get(kind, "a reversal")
    check_same_request(
        key,
        CorrectionRefused,
        what,
        {
            "account": entry.account_id,
            "amount": entry.amount_minor,
            "entry reversed": entry.reverses_id,
            "operator": entry.operator_id,
            "approver": entry.approved_by_id,
            "payment method": None if receipt is None else receipt.method,
            "reason": entry.reason,
        },
        {
            "account": account.id,
            "amount": amount_minor,
            "entry reversed": reverses_id,
            "operator": by.operator_id,
            "approver": approver.operator_id,
            "payment method": method,
            "reason": reason,
        },
    )
    number = None if receipt is None else receipt.number
    before = entry.balance_after_minor - entry.amount_minor
    posted = Posted(entry.id, before, entry.balance_after_minor)
    approved = entry.approved_by_id or entry.operator_id or 0
    return _done(
        account, kind, amount_minor, posted, number, currency, approved, reverses_id, replayed=True
    )
