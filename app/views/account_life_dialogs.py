"""An account's life: open in an empty room, move to another room, settle and close, reopen
as a new account for the holder of a closed one.

Meters stay with their room and the balance goes with the person: opening and moving pick a
room from the empty ones (a combo that filters as you type). Settling records each meter's
final reading, pays the remainder back or collects the debt with a settlement receipt, and
shows the readings and the receipt. The choices (empty rooms, policies, tariff plans) and the
account's details load in the background when the dialog opens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QWidget

from app.queries.accounts import AccountDetail, AccountRow, get_account_detail
from app.services.account_life import (
    AccountMoved,
    AccountOpened,
    FormChoices,
    move_account,
    open_account,
    open_form_choices,
    reopen_account,
)
from app.services.account_settlement import Settlement, settle_account
from app.services.meter_replacement import format_units
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database
from app.ui.formatting import local_time_text, utility_label
from app.views.account_dialogs import (
    AccountDialog,
    chosen_method,
    line_edit,
    method_combo,
    searchable_combo,
    sign_in_approver,
)
from app.views.form_dialog import label
from app.vocabulary import Utility

_Loaded = tuple[FormChoices, AccountDetail | None]


class _ChoicesDialog(AccountDialog):
    """Loads the form's choices (and the account's details, for an account) on open;
    ``loaded`` is emitted on the GUI thread once they are shown."""

    loaded = Signal()
    needs: ClassVar[Action]  # what the operator must be allowed to do

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        currency: str,
        account: AccountRow | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(db, operator, data_dir, currency, parent)
        self.account = account
        self.detail: AccountDetail | None = None
        self.tariff_combos: dict[Utility, QComboBox] = {}
        self.confirm_button.setEnabled(False)  # until the choices are in
        self.build()
        self.start_loading()

    def build(self) -> None:
        """Lay out the form (called once in ``__init__``, before the choices load)."""
        raise NotImplementedError

    def chosen_account(self) -> AccountRow:
        """The account this dialog is about (not for a new one)."""
        assert self.account is not None
        return self.account

    def start_loading(self) -> None:
        if not self.require(self.needs):
            self.disable_fields()
            return
        db, account_id = self._db, self.account.id if self.account else None

        def work() -> _Loaded:
            detail = get_account_detail(db, account_id) if account_id is not None else None
            return open_form_choices(db), detail

        self.in_background(work, self._on_loaded, self.show_error)

    def _on_loaded(self, loaded: _Loaded) -> None:
        choices, self.detail = loaded
        self.fill(choices)
        self.confirm_button.setEnabled(True)
        self.fit()
        focus = self.first_field()
        if focus is not None:
            focus.setFocus()
        self.loaded.emit()

    def fill(self, choices: FormChoices) -> None:
        raise NotImplementedError

    def add_room_field(self, text: str) -> None:
        """The room combo (field "room"), filled by ``fill_rooms``."""
        self.room = searchable_combo("roomCombo", self.tr("type to search the empty rooms"))
        self.add_field("room", text, self.room)

    def fill_rooms(self, rooms: tuple[str, ...]) -> None:
        self.room.addItems(list(rooms))
        self.room.setCurrentIndex(-1)
        self.room.setEditText("")

    def add_tariff_field(self, note: str) -> None:
        """The row of tariff combos (field "tariff"), filled by ``fill_tariffs``."""
        self.tariff_box = QWidget()
        self.tariff_grid = QGridLayout(self.tariff_box)
        self.tariff_grid.setContentsMargins(0, 0, 0, 0)
        self.tariff_grid.setHorizontalSpacing(8)
        self.tariff_grid.setColumnStretch(1, 1)
        self.add_field("tariff", self.tr("&Tariffs"), self.tariff_box, note)

    def fill_tariffs(
        self, plans: Mapping[Utility, tuple[str, ...]], chosen: Mapping[Utility, str]
    ) -> None:
        """A combo per utility; the room's meters say which of them count."""
        for row, (utility, names) in enumerate(sorted(plans.items())):
            combo = QComboBox()
            combo.setObjectName(f"tariff_{utility.value}")
            combo.setPlaceholderText(self.tr("choose a tariff"))
            combo.addItems(list(names))
            combo.setCurrentIndex(names.index(chosen[utility]) if utility in chosen else -1)
            combo.currentIndexChanged.connect(lambda _index: self.clear_errors())
            name = QLabel(utility_label(utility))
            self.tariff_grid.addWidget(name, row, 0)
            self.tariff_grid.addWidget(combo, row, 1)
            for widget in (name, combo):  # the dialog is on screen: show them now, not queued
                widget.show()
            self.tariff_combos[utility] = combo
        if self.tariff_combos:
            self.tariff_box.setFocusProxy(next(iter(self.tariff_combos.values())))
        self.set_row_visible("tariff", bool(self.tariff_combos))

    def chosen_tariffs(self) -> dict[Utility, str]:
        return {u: c.currentText() for u, c in self.tariff_combos.items() if c.currentIndex() >= 0}


class OpenAccountDialog(_ChoicesDialog):
    """A new account in an empty room with the room's meters, a tariff per metered utility, a
    balance policy and an opening balance (paid in as a recharge with its receipt)."""

    needs = Action.OPEN_ACCOUNT

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        currency: str,
        parent: QWidget | None = None,
        *,
        reopen: AccountRow | None = None,
    ) -> None:
        super().__init__(db, operator, data_dir, currency, reopen, parent)

    def build(self) -> None:
        self.setWindowTitle(self.tr("Open account") if self.account is None else self.tr("Reopen"))
        self.title.setText(self.tr("Open an account"))
        self.subtitle.setText(
            self.tr("In an empty room: its meters come with it. Fields marked * are needed.")
        )
        self.holder_name = line_edit("holderName", self.tr("as on the ID"), 120)
        self.holder_ref = line_edit("holderRef", self.tr("student or staff number"), 40)
        self.phone = line_edit("phoneField", "", 40)
        self.add_field("holder_name", self.tr("Holder &name *"), self.holder_name)
        self.add_field("holder_ref", self.tr("&Student / staff no."), self.holder_ref)
        self.add_field("phone", self.tr("&Phone"), self.phone)
        self.add_room_field(self.tr("&Room *"))
        self.policy = QComboBox()
        self.policy.setObjectName("policyCombo")
        self.policy.setPlaceholderText(self.tr("choose a balance policy"))
        self.add_field("policy", self.tr("Balance p&olicy *"), self.policy)
        self.add_tariff_field(self.tr("Only the utilities the room has a meter of are used."))
        self.opening = line_edit("amountField", "0", 20)
        self.method = method_combo()
        self.add_field("amount", self.tr("Opening &balance"), self.opening)
        self.add_field("method", self.tr("Paid b&y"), self.method)
        self.confirm_button.setText(self.tr("Open account  (Enter)"))

    def fill(self, choices: FormChoices) -> None:
        self.fill_rooms(choices.empty_rooms)
        self.policy.addItems(list(choices.policies))
        self.fill_tariffs(choices.plans, {})

    def make_work(self) -> Callable[[], Any] | None:
        db, who, key = self._db, self._operator, self.key
        name, ref, phone = self.holder_name.text(), self.holder_ref.text(), self.phone.text()
        room, policy, tariffs = (
            self.room.currentText(),
            self.policy.currentText(),
            (self.chosen_tariffs()),
        )
        opening, method = self.opening.text().strip() or "0", chosen_method(self.method)
        return lambda: open_account(
            db, who, name, ref, phone, room, tariffs, policy, opening, method, key
        )

    def describe(self, result: Any) -> tuple[str, int, str]:
        assert isinstance(result, AccountOpened)
        text = self.tr("Account {number} opened for {holder} in room {room}.").format(
            number=result.account_number, holder=result.holder_name, room=result.room_label
        )
        text += "\n" + self.tr("Meters: {meters} · tariffs: {tariffs}").format(
            meters=", ".join(result.meter_serials) or self.tr("none"),
            tariffs=", ".join(name for _utility, name in result.tariffs) or self.tr("none"),
        )
        if result.opening_balance_minor:
            text += "\n" + self.tr("Opening balance {amount} paid in.").format(
                amount=self.money(result.opening_balance_minor)
            )
        return text, result.account_id, result.account_number


class ReopenDialog(OpenAccountDialog):
    """A new account for the holder of a closed one, in an empty room: his details, policy and
    tariffs filled in from the closed account; the new account names the one it follows."""

    def __init__(
        self,
        db: Database,
        operator: SignedIn,
        data_dir: Path,
        currency: str,
        account: AccountRow,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(db, operator, data_dir, currency, parent, reopen=account)

    def build(self) -> None:
        super().build()
        account = self.chosen_account()
        self.title.setText(self.tr("Reopen account {number}").format(number=account.number))
        self.subtitle.setText(
            self.tr(
                "A new account for {holder}, who closed account {number}; choose the room."
            ).format(holder=account.holder_name, number=account.number)
        )
        self.holder_name.setText(account.holder_name)
        self.holder_ref.setText(account.holder_ref)
        self.confirm_button.setText(self.tr("Reopen  (Enter)"))

    def fill(self, choices: FormChoices) -> None:
        super().fill(choices)
        if self.detail is None:
            return
        self.phone.setText(self.detail.phone)
        self.policy.setCurrentIndex(self.policy.findText(self.detail.policy_name))
        for utility, name in self.detail.tariffs:
            combo = self.tariff_combos.get(utility)
            if combo is not None:
                combo.setCurrentIndex(combo.findText(name))

    def first_field(self) -> QWidget | None:
        return self.room if self.room.isEnabled() else None

    def make_work(self) -> Callable[[], Any] | None:
        db, who, key, number = self._db, self._operator, self.key, self.chosen_account().number
        room, tariffs = self.room.currentText(), self.chosen_tariffs()
        details = {
            "holder_name": self.holder_name.text(),
            "holder_ref": self.holder_ref.text(),
            "phone": self.phone.text(),
            "policy_name": self.policy.currentText() if self.policy.currentIndex() >= 0 else None,
        }
        opening, method = self.opening.text().strip() or "0", chosen_method(self.method)
        return lambda: reopen_account(
            db,
            who,
            number,
            room,
            key,
            holder_name=details["holder_name"],
            holder_ref=details["holder_ref"],
            phone=details["phone"],
            policy_name=details["policy_name"],
            utility_tariffs=tariffs,
            opening_balance_text=opening,
            method=method,
        )

    def describe(self, result: Any) -> tuple[str, int, str]:
        text, account_id, number = super().describe(result)
        assert isinstance(result, AccountOpened)
        follows = self.tr("It follows closed account {number}.").format(number=result.reopened_from)
        return text + "\n" + follows, account_id, number


class MoveDialog(_ChoicesDialog):
    """The holder moves to an empty room: the old room's meters stay there, the new room's
    meters come to the account, the balance stays with the holder."""

    needs = Action.MOVE_ACCOUNT

    def build(self) -> None:
        account = self.chosen_account()
        self.setWindowTitle(self.tr("Move"))
        self.title.setText(self.tr("Move account {number}").format(number=account.number))
        self.subtitle.setText(
            self.tr(
                "{holder} leaves room {room}; its meters stay there. The balance, {balance}, "
                "moves with the holder."
            ).format(
                holder=account.holder_name,
                room=account.room_label or "—",
                balance=self.money(account.balance_minor),
            )
        )
        self.add_room_field(self.tr("&New room"))
        self.add_tariff_field(
            self.tr("Only if the new room has a meter of a utility the account has no tariff for.")
        )
        self.set_row_visible("tariff", False)
        self.confirm_button.setText(self.tr("Move  (Enter)"))

    def fill(self, choices: FormChoices) -> None:
        self.fill_rooms(choices.empty_rooms)
        have = {utility for utility, _name in self.detail.tariffs} if self.detail else set()
        self.fill_tariffs({u: n for u, n in choices.plans.items() if u not in have}, {})

    def make_work(self) -> Callable[[], Any] | None:
        db, who, key, number = self._db, self._operator, self.key, self.chosen_account().number
        room, tariffs = self.room.currentText(), self.chosen_tariffs()
        return lambda: move_account(db, who, number, room, key, utility_tariffs=tariffs)

    def describe(self, result: Any) -> tuple[str, int, str]:
        assert isinstance(result, AccountMoved)
        text = self.tr("Account {number} moved from room {old} to room {new}.").format(
            number=result.account_number, old=result.from_room or "—", new=result.to_room
        )
        text += "\n" + self.tr("Meters left behind: {old} · meters now billed: {new}").format(
            old=", ".join(result.detached) or self.tr("none"),
            new=", ".join(result.attached) or self.tr("none"),
        )
        return text, self.chosen_account().id, result.account_number


class SettleDialog(_ChoicesDialog):
    # Set by the screen when a runtime polls in this process: posts the account's waiting
    # usage and returns once it is committed (``Runtime.post_and_wait``).
    before_settle: Callable[[int], object] | None = None

    """Close the account: final readings, the remainder paid back or the debt collected with
    a settlement receipt, the meters freed for the room's next holder."""

    needs = Action.CLOSE_ACCOUNT

    def build(self) -> None:
        account = self.chosen_account()
        self.setWindowTitle(self.tr("Settle and close"))
        self.title.setText(
            self.tr("Settle and close account {number}").format(number=account.number)
        )
        self.subtitle.setText(
            self.tr(
                "Room {room} · {holder}. Closing cannot be undone; reopen makes a new account."
            ).format(room=account.room_label or "—", holder=account.holder_name)
        )
        self.balance = label(self.tr("Loading the balance…"), "bigAmount")
        self.meaning = label()
        self.form.addRow(self.balance)
        self.form.addRow(self.meaning)
        self.method = method_combo()
        self.add_field("method", self.tr("Paid back &by"), self.method)
        self.add_approver_fields(
            self.tr("Approval (optional)"),
            self.tr("A supervisor who approves the payout signs in here; leave empty if none."),
        )
        self.confirm_button.setText(self.tr("Settle && close  (Enter)"))

    def fill(self, choices: FormChoices) -> None:
        if self.detail is None:
            self.show_error(self.tr("This account no longer exists; reload the list."))
            return
        balance = self.detail.row.balance_minor
        self.balance.setText(self.tr("Balance {amount}").format(amount=self.money(balance)))
        if balance > 0:
            text = self.tr("The remainder, {amount}, is paid back to the holder.")
            self.row_label("method").setText(self.tr("Paid back &by"))
        elif balance < 0:
            text = self.tr("The debt, {amount}, is collected from the holder.")
            self.row_label("method").setText(self.tr("Collected &by"))
        else:
            text = self.tr("Nothing to pay back or collect; no receipt is issued.")
            self.set_row_visible("method", False)
        self.meaning.setText(text.format(amount=self.money(abs(balance))))
        meters = ", ".join(self.detail.row.meter_serials) or self.tr("none")
        self.meaning.setText(
            self.meaning.text()
            + "\n"
            + self.tr("Final readings are taken from the meters: {meters}.").format(meters=meters)
        )

    def first_field(self) -> QWidget | None:
        return self.method if self.method.isVisibleTo(self) else self.confirm_button

    def make_work(self) -> Callable[[], Any] | None:
        db, who, key, number = self._db, self._operator, self.key, self.chosen_account().number
        method = chosen_method(self.method)
        user, password = self.approver_inputs()

        before = self.before_settle
        account_id = self.chosen_account().id

        def work() -> Settlement:
            approver = sign_in_approver(db, user, password)
            if approver is not None:
                approver.require(Action.APPROVE)  # refused before anything is posted
            if before is not None:  # the usage rated up to now goes into the final bill
                before(account_id)
            return settle_account(db, who, number, method, key, approver=approver)

        return work

    def describe(self, result: Any) -> tuple[str, int, str]:
        assert isinstance(result, Settlement)
        self.balance.setText(self.tr("Closed"))
        self.meaning.hide()  # what would happen; the result line says what did
        amount = self.money(abs(result.amount_minor))
        if result.amount_minor < 0:
            head = self.tr("Account {number} closed; {amount} paid back by {method}.")
        elif result.amount_minor > 0:
            head = self.tr("Account {number} closed; {amount} collected by {method}.")
        else:
            head = self.tr("Account {number} closed; nothing to pay back or collect.")
        lines = [
            head.format(
                number=result.account_number,
                amount=amount,
                method=self.method.currentText().lower(),
            ),
            self.tr("Final readings:"),
        ]
        for reading in result.final_readings:
            if reading.register_units is None:
                value = self.tr("no reading stored")
            else:
                value = self.tr("{value} (read {when})").format(
                    value=format_units(reading.register_units, reading.utility),
                    when=local_time_text(reading.read_at),
                )
            lines.append(f"  {utility_label(reading.utility)} {reading.serial}: {value}")
        if not result.final_readings:
            lines.append("  " + self.tr("no meters"))
        return "\n".join(lines), result.account_id, result.account_number
