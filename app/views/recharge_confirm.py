"""The last look before money is credited: the amount, the room and its meters, named
explicitly so the money never goes to the wrong room. Enter confirms, Esc goes back."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.billing.money import Money
from app.queries.accounts import AccountDetail
from app.ui.formatting import utility_label
from app.vocabulary import PaymentMethod


class RechargeConfirm(QDialog):
    def __init__(
        self,
        detail: AccountDetail,
        amount: Money,
        method: PaymentMethod,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Confirm recharge"))
        self.setModal(True)
        row = detail.row
        methods = {
            PaymentMethod.CASH: self.tr("cash"),
            PaymentMethod.CARD: self.tr("card"),
            PaymentMethod.TRANSFER: self.tr("transfer"),
            PaymentMethod.CAMPUS: self.tr("campus card"),
        }
        headline = QLabel(
            self.tr("{amount} to room {room}").format(
                amount=amount.display(), room=row.room_label or self.tr("(no room)")
            )
        )
        headline.setObjectName("confirmHeadline")
        headline.setStyleSheet("font-size: 24px; font-weight: 700;")
        who = QLabel(
            self.tr("{holder} · account {number} · paid by {method}").format(
                holder=row.holder_name, number=row.number, method=methods[method]
            )
        )
        who.setStyleSheet("font-size: 15px;")
        meters = QLabel(
            self.tr("Meters: {meters}").format(
                meters=", ".join(f"{utility_label(m.utility)} {m.serial}" for m in detail.meters)
                or self.tr("none")
            )
        )
        meters.setWordWrap(True)
        self.text = "\n".join(label.text() for label in (headline, who, meters))
        buttons = QDialogButtonBox()
        self.confirm_button = buttons.addButton(
            self.tr("Confirm  (Enter)"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        buttons.addButton(self.tr("Back  (Esc)"), QDialogButtonBox.ButtonRole.RejectRole)
        self.confirm_button.setDefault(True)
        self.confirm_button.setAutoDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        layout.setSpacing(10)
        layout.addWidget(headline)
        layout.addWidget(who)
        layout.addWidget(meters)
        layout.addWidget(buttons)
        self.confirm_button.setFocus()
