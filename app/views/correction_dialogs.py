"""Money corrections of one account: refund, adjustment, reversal of an entry.

Each needs a reason and a supervisor: the operator himself when his role may approve, else a
supervisor who signs in on the spot in the dialog (his user name and password, checked in the
worker) and is named on the entry as approver. Nothing is edited: each posts a new entry (a
refund or adjustment with its receipt, a reversal naming the entry it undoes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from app.billing.money import Money, MoneyError
from app.queries.accounts import AccountRow, LedgerLine, get_account_detail
from app.services.corrections import REVERSIBLE, CorrectionDone, adjust, refund, reverse
from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.services.service_checks import REASON_MAX
from app.store.database import Database
from app.ui.formatting import ledger_kind_label, local_time_text, money_text
from app.views.account_dialogs import (
    OneAccountDialog,
    Refusal,
    chosen_method,
    line_edit,
    method_combo,
    sign_in_approver,
)
from app.views.login_dialog import role_label
from app.vocabulary import LedgerKind

_REVERSES = re.compile(r"reverses entry (\d+)")


@dataclass(frozen=True)
class EntryChoice:
    """A ledger entry the operator may pick for a reversal."""

    entry_id: int
    created_at: datetime
    kind: LedgerKind
    amount_minor: int
    reason: str
    reference: str


def entry_choices(lines: Iterable[LedgerLine]) -> list[EntryChoice]:
    """The recent entries that can be reversed: recharges, adjustments and refunds not reversed
    already (as far as the recent entries show). A line without an ``entry_id`` cannot be
    named to the service and is left out."""
    lines = list(lines)
    undone = {
        int(match.group(1))
        for line in lines
        if line.kind is LedgerKind.REVERSAL and (match := _REVERSES.search(line.reference))
    }
    choices = []
    for line in lines:
        # LedgerLine carries no entry id yet (asked for); until it does nothing is offered.
        entry_id = getattr(line, "entry_id", None)
        if isinstance(entry_id, int) and line.kind in REVERSIBLE and entry_id not in undone:
            choices.append(
                EntryChoice(
                    entry_id,
                    line.created_at,
                    line.kind,
                    line.amount_minor,
                    line.reason,
                    line.reference,
                )
            )
    return choices


class _CorrectionDialog(OneAccountDialog):
    """An account, a reason, and the approval on the spot when the operator may not approve."""

    def build(self, account: AccountRow) -> None:
        self.subtitle.setText(
            self.tr("Room {room} · {holder} · account {number} · balance {balance}").format(
                room=account.room_label or "—",
                holder=account.holder_name,
                number=account.number,
                balance=self.money(account.balance_minor),
            )
        )
        self.reason = line_edit("reasonField", self.tr("why, for the record"), REASON_MAX)

    def add_reason_and_approval(self, needs: Action) -> bool:
        """The reason field, and the supervisor's fields when the operator may do ``needs``
        but not approve. False (the form off, saying who may) when he may not do ``needs``."""
        self.add_field("reason", self.tr("&Reason"), self.reason)
        if not self.require(needs):
            self.disable_fields()
            return False
        if not allowed(self._operator.role, Action.APPROVE):
            self.add_approver_fields(
                self.tr("Supervisor approval"),
                self.tr("{role} may not approve this: a supervisor signs in here.").format(
                    role=role_label(self._operator.role)
                ),
            )
        return True

    def approval(self) -> Callable[[], SignedIn | None] | None:
        """The approver's sign-in to run in the worker; None (with the message shown) when a
        supervisor is needed and none was named."""
        user, password = self.approver_inputs()
        if self.approver_user is not None and not user.strip():
            self.show_refusal(
                Refusal(
                    "approver",
                    self.tr("A supervisor must approve: type his user name and password."),
                )
            )
            return None
        db = self._db
        return lambda: sign_in_approver(db, user, password)

    def make_work(self) -> Callable[[], Any] | None:
        approval = self.approval()
        if approval is None:
            return None
        return self.correction(approval)

    def correction(self, approval: Callable[[], SignedIn | None]) -> Callable[[], Any]:
        """The correction to run in the worker; ``approval`` signs the approver in there."""
        raise NotImplementedError

    def describe(self, result: Any) -> tuple[str, int, str]:
        assert isinstance(result, CorrectionDone)
        return self.describe_done(result), result.account_id, result.account_number

    def describe_done(self, done: CorrectionDone) -> str:
        raise NotImplementedError


class RefundDialog(_CorrectionDialog):
    """Pay money back out of the balance (at most the balance), with a refund receipt."""

    def build(self, account: AccountRow) -> None:
        super().build(account)
        self.setWindowTitle(self.tr("Refund"))
        self.title.setText(self.tr("Refund from account {number}").format(number=account.number))
        self.amount = line_edit("amountField", self.tr("e.g. 50 or 12.50"), 20)
        self.method = method_combo()
        self.add_field(
            "amount",
            self.tr("&Amount"),
            self.amount,
            self.tr("At most the balance, {balance}.").format(
                balance=self.money(account.balance_minor)
            ),
        )
        self.add_field("method", self.tr("Paid &back by"), self.method)
        self.confirm_button.setText(self.tr("Refund  (Enter)"))
        self.add_reason_and_approval(Action.REFUND)

    def correction(self, approval: Callable[[], SignedIn | None]) -> Callable[[], Any]:
        db, who, number = self._db, self._operator, self.account.number
        amount, method, why, key = (
            self.amount.text(),
            chosen_method(self.method),
            self.reason.text(),
            self.key,
        )
        return lambda: refund(db, who, number, amount, method, why, approval(), key)

    def describe_done(self, done: CorrectionDone) -> str:
        return self.tr("Refunded {amount} by {method}; the balance is now {balance}.").format(
            amount=money_text(-done.amount_minor, done.currency),
            method=self.method.currentText().lower(),
            balance=money_text(done.balance_after_minor, done.currency),
        )


class AdjustDialog(_CorrectionDialog):
    """Correct the balance by a signed amount, with an adjustment receipt."""

    def build(self, account: AccountRow) -> None:
        super().build(account)
        self.setWindowTitle(self.tr("Adjust balance"))
        self.title.setText(self.tr("Adjust account {number}").format(number=account.number))
        self.amount = line_edit("amountField", self.tr("signed, e.g. -12.30 or +5"), 20)
        self.effect = self.add_field(
            "amount",
            self.tr("&Amount"),
            self.amount,
            self.tr("+ adds to the balance, - takes off."),
        )
        self.amount.textChanged.connect(self._show_effect)
        self.confirm_button.setText(self.tr("Adjust  (Enter)"))
        self.add_reason_and_approval(Action.ADJUST)

    def _show_effect(self, text: str) -> None:
        try:
            amount = Money.parse(text, self._currency)
        except MoneyError:
            self.effect.setText(self.tr("+ adds to the balance, - takes off."))
            return
        if amount.minor > 0:
            self.effect.setText(
                self.tr("Adds {amount} to the balance.").format(amount=amount.display())
            )
        elif amount.minor < 0:
            self.effect.setText(
                self.tr("Takes {amount} off the balance.").format(amount=(-amount).display())
            )
        else:
            self.effect.setText(self.tr("Zero changes nothing."))

    def correction(self, approval: Callable[[], SignedIn | None]) -> Callable[[], Any]:
        db, who, number = self._db, self._operator, self.account.number
        amount, why, key = self.amount.text(), self.reason.text(), self.key
        return lambda: adjust(db, who, number, amount, why, approval(), key)

    def describe_done(self, done: CorrectionDone) -> str:
        return self.tr("Adjusted by {amount}; the balance is now {balance}.").format(
            amount=("+" if done.amount_minor > 0 else "")
            + money_text(done.amount_minor, done.currency),
            balance=money_text(done.balance_after_minor, done.currency),
        )


class ReverseDialog(_CorrectionDialog):
    """Undo one recent recharge, adjustment or refund exactly (no receipt). ``entries`` are
    the choices; None loads the account's recent entries."""

    entries_loaded = Signal(int)  # how many entries can be chosen (GUI thread)

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        currency: str,
        account: AccountRow,
        parent: QWidget | None = None,
        *,
        entries: Sequence[EntryChoice] | None = None,
    ) -> None:
        super().__init__(db, operator, data_dir, currency, account, parent)
        if not self.may_reverse:
            return
        if entries is not None:
            self.show_entries(list(entries))
            return
        account_id = account.id
        self.in_background(
            lambda: entry_choices(
                detail.recent_entries if (detail := get_account_detail(db, account_id)) else ()
            ),
            self.show_entries,
            self.show_error,
        )

    def build(self, account: AccountRow) -> None:
        super().build(account)
        self.setWindowTitle(self.tr("Reverse an entry"))
        self.title.setText(
            self.tr("Reverse an entry of account {number}").format(number=account.number)
        )
        self.entry = QComboBox()
        self.entry.setObjectName("entryCombo")
        self.entry.setPlaceholderText(self.tr("Loading the recent entries…"))
        self.add_field(
            "entry",
            self.tr("&Entry"),
            self.entry,
            self.tr(
                "Recharges, adjustments and refunds can be reversed; usage is corrected "
                "with an adjustment."
            ),
        )
        self.confirm_button.setText(self.tr("Reverse  (Enter)"))
        self.confirm_button.setEnabled(False)
        self.may_reverse = self.add_reason_and_approval(Action.ADJUST)

    def show_entries(self, choices: list[EntryChoice]) -> None:
        self.entry.clear()
        for choice in choices:
            parts = [
                local_time_text(choice.created_at),
                ledger_kind_label(choice.kind),
                money_text(choice.amount_minor, self._currency),
                choice.reference,
            ]
            text = " · ".join(part for part in parts if part)
            self.entry.addItem(text, choice.entry_id)
            self.entry.setItemData(
                self.entry.count() - 1, choice.reason or None, Qt.ItemDataRole.ToolTipRole
            )
        if choices:
            self.entry.setCurrentIndex(0)
            self.confirm_button.setEnabled(True)
        else:
            self.entry.setPlaceholderText(self.tr("No recent entry can be reversed"))
        self.fit()
        self.entries_loaded.emit(len(choices))

    def make_work(self) -> Callable[[], Any] | None:
        entry_id = self.entry.currentData()
        if not isinstance(entry_id, int):
            self.show_refusal(Refusal("entry", self.tr("Choose the entry to reverse.")))
            return None
        return super().make_work()

    def correction(self, approval: Callable[[], SignedIn | None]) -> Callable[[], Any]:
        entry_id = self.entry.currentData()
        db, who, why, key = self._db, self._operator, self.reason.text(), self.key
        return lambda: reverse(db, who, entry_id, why, approval(), key)

    def describe_done(self, done: CorrectionDone) -> str:
        return self.tr(
            "Entry {target} reversed by entry {entry} ({amount}); the balance is now {balance}."
        ).format(
            target=done.reverses_id,
            entry=done.entry_id,
            amount=money_text(done.amount_minor, done.currency),
            balance=money_text(done.balance_after_minor, done.currency),
        )
