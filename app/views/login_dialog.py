"""Who is at the keyboard: the sign-in dialog (start and lock screen) and the first start's
administrator set-up.

Both run on the GUI thread. Checking a password (argon2) takes 50-100 ms, acceptable for a
sign-in; the button is disabled and the cursor busy meanwhile so a second Enter cannot queue a
second check.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QCursor, QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.services.operators import (
    MIN_PASSWORD,
    OperatorRefused,
    SignedIn,
    login,
    set_up_first_admin,
)
from app.store.database import Database
from app.views.form_dialog import FormDialog, label, with_notes
from app.vocabulary import Role

DIALOG_WIDTH = 480

# The form look is the theme's (``app.views.form_dialog``); the demo hint is only here.
_SHEET = """
QLabel#demoHint {
    color: #334155; background: #f1f5f9; border: 1px solid #e2e8f0; border-radius: 6px;
    padding: 6px 8px;
}
"""


def role_label(role: Role) -> str:
    """The role as the operator reads it ("Supervisor")."""
    labels = {
        Role.CASHIER: QCoreApplication.translate("Roles", "Cashier"),
        Role.OFFICE: QCoreApplication.translate("Roles", "Office staff"),
        Role.SUPERVISOR: QCoreApplication.translate("Roles", "Supervisor"),
        Role.TECHNICIAN: QCoreApplication.translate("Roles", "Technician"),
        Role.ADMIN: QCoreApplication.translate("Roles", "Administrator"),
    }
    return labels[role]


def _line_edit(password: bool = False) -> QLineEdit:
    edit = QLineEdit()
    edit.setMinimumWidth(240)
    if password:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class _FormDialog(FormDialog):
    """Title, subtitle, a form, an error line and the buttons. Enter in a field whose next field
    is still empty moves there; otherwise Enter presses the default button."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(DIALOG_WIDTH, parent, gap=6)
        self.setStyleSheet(_SHEET)
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(10)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.add_middle(self.form)
        self._chain: list[QLineEdit] = []

    def _first_focus(self) -> QLineEdit:
        return self._chain[0]

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._first_focus().setFocus(Qt.FocusReason.OtherFocusReason)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            focused = self.focusWidget()
            if isinstance(focused, QLineEdit) and focused in self._chain:
                rest = self._chain[self._chain.index(focused) + 1 :]
                if rest and not rest[0].text():
                    rest[0].setFocus(Qt.FocusReason.TabFocusReason)
                    event.accept()
                    return
        super().keyPressEvent(event)

    def _working(self, button: QPushButton, busy: bool) -> None:
        button.setEnabled(not busy)
        if busy:
            QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
            button.repaint()  # show it disabled before the GUI thread hashes
        else:
            QApplication.restoreOverrideCursor()


class LoginDialog(_FormDialog):
    """Sign in with a user name and password; ``signed_in`` says who after ``accept``.

    With ``locked`` it is the lock screen: the name is filled in, the focus is on the password,
    anyone else may sign in instead, and Esc or closing does not take the lock away.
    """

    def __init__(
        self,
        db: Database,
        site_name: str,
        *,
        demo_password: str | None = None,
        locked: SignedIn | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title.setText(site_name)
        if locked is None:
            subtitle = self.tr("Sign in to MeterDesk with your user name and password.")
        else:
            subtitle = self.tr(
                "Locked — {name}. Type your password to go on, or sign in as someone else."
            ).format(name=locked.display_name)
        self.subtitle.setText(subtitle)
        self._db = db
        self._locked = locked
        self._signed_in: SignedIn | None = None
        if locked is None:
            self.setWindowTitle(self.tr("MeterDesk — sign in"))
        else:
            self.setWindowTitle(self.tr("MeterDesk — locked"))
            # No close button: the lock ends only by signing in.
            self.setWindowFlags(
                Qt.WindowType.Dialog
                | Qt.WindowType.CustomizeWindowHint
                | Qt.WindowType.WindowTitleHint
            )

        self.username = _line_edit()
        self.username.setObjectName("loginUser")
        self.password = _line_edit(password=True)
        self.password.setObjectName("loginPassword")
        self.form.addRow(self.tr("&User name"), self.username)
        self.form.addRow(self.tr("&Password"), self.password)
        self._chain = [self.username, self.password]
        if locked is not None:
            self.username.setText(locked.username)
        self.username.textEdited.connect(lambda _text: self.show_error(""))
        self.password.textEdited.connect(lambda _text: self.show_error(""))

        self.demo_hint: QLabel | None = None
        if demo_password is not None:
            users = ", ".join(role.value for role in Role)
            self.demo_hint = label(
                self.tr("Demo site: sign in as {users}; the password is “{password}”.").format(
                    users=users, password=demo_password
                ),
                "demoHint",
            )
            self.body.insertWidget(self.body.indexOf(self.error) + 1, self.demo_hint)

        self.sign_in_button = QPushButton(self.tr("Sign in"))
        self.sign_in_button.setDefault(True)
        self.buttons.addButton(self.sign_in_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.sign_in_button.clicked.connect(self._sign_in)
        if locked is None:
            quit_button = self.buttons.addButton(
                self.tr("Quit"), QDialogButtonBox.ButtonRole.RejectRole
            )
            quit_button.setAutoDefault(False)
            quit_button.clicked.connect(self.reject)

    @property
    def signed_in(self) -> SignedIn | None:
        return self._signed_in

    @property
    def is_lock_screen(self) -> bool:
        return self._locked is not None

    def _first_focus(self) -> QLineEdit:
        return self.password if self.username.text() else self.username

    def reject(self) -> None:
        if self._locked is None:  # the lock screen stays until someone signs in
            super().reject()

    def _sign_in(self) -> None:
        name = self.username.text().strip()
        if not name:
            self.show_error(self.tr("Type your user name."))
            self.username.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        if not self.password.text():
            self.show_error(self.tr("Type your password."))
            self.password.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self._working(self.sign_in_button, True)
        try:
            who = login(self._db, name, self.password.text())
        except OperatorRefused as exc:
            self.show_error(str(exc))
            self.password.clear()
            self.password.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        finally:
            self._working(self.sign_in_button, False)
        self._signed_in = who
        self.password.clear()
        self.accept()


class FirstAdminDialog(_FormDialog):
    """First start on an empty database: set up the administrator (who is then signed in)."""

    def __init__(self, db: Database, site_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title.setText(self.tr("Set up the administrator"))
        self.subtitle.setText(
            self.tr(
                "{site}: this database has no operators yet. The administrator you set up here "
                "signs in first and adds the cashiers, office staff, supervisors and "
                "technicians."
            ).format(site=site_name)
        )
        self.setWindowTitle(self.tr("MeterDesk — first start"))
        self._db = db
        self._signed_in: SignedIn | None = None

        self.username = _line_edit()
        self.username.setText("admin")
        self.display_name = _line_edit()
        self.display_name.setPlaceholderText(self.tr("e.g. Site administrator"))
        self.password = _line_edit(password=True)
        self.repeat = _line_edit(password=True)
        password_note = label(
            self.tr("At least {n} characters.").format(n=MIN_PASSWORD), "fieldNote"
        )
        self.mismatch = label(self.tr("The two passwords differ; type them again."), "fieldError")
        self.mismatch.hide()
        self.form.addRow(self.tr("&User name"), self.username)
        self.form.addRow(self.tr("&Display name"), self.display_name)
        self.form.addRow(self.tr("&Password"), with_notes(self.password, password_note))
        self.form.addRow(self.tr("&Repeat password"), with_notes(self.repeat, self.mismatch))
        self._chain = [self.username, self.display_name, self.password, self.repeat]
        for edit in self._chain:
            edit.textEdited.connect(lambda _text: self.show_error(""))
        self.repeat.textEdited.connect(self._hide_mismatch)
        self.password.textEdited.connect(self._hide_mismatch)

        self.create_button = QPushButton(self.tr("Create administrator"))
        self.create_button.setDefault(True)
        self.buttons.addButton(self.create_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.clicked.connect(self._create)
        quit_button = self.buttons.addButton(
            self.tr("Quit"), QDialogButtonBox.ButtonRole.RejectRole
        )
        quit_button.setAutoDefault(False)
        quit_button.clicked.connect(self.reject)

    @property
    def signed_in(self) -> SignedIn | None:
        return self._signed_in

    def _hide_mismatch(self) -> None:
        if not self.mismatch.isHidden():
            self.mismatch.hide()
            self.fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.username.selectAll()  # "admin" is a suggestion: typing replaces it

    def _create(self) -> None:
        if self.password.text() != self.repeat.text():
            self.mismatch.show()
            self.fit()
            self.repeat.clear()
            self.repeat.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self._hide_mismatch()
        self._working(self.create_button, True)
        try:
            who = set_up_first_admin(
                self._db, self.username.text(), self.display_name.text(), self.password.text()
            )
        except OperatorRefused as exc:
            self.show_error(str(exc))
            return
        finally:
            self._working(self.create_button, False)
        self._signed_in = who
        self.accept()
