"""What every page of the Setup screen shares: a title and what the page is for, a searchable
table of what is there (loaded off the GUI thread), the page's actions (each off, with a
tooltip naming who may, for a role that may not), and a line that says what the last action
did or why it was refused."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.row_table_model import Column, PreparedRows, prepare_rows
from app.ui.searchable_table import SearchableTable
from app.views.account_dialogs import not_allowed_note
from app.views.form_dialog import label
from app.views.setup_form_dialog import FieldSpec, SetupFormDialog, Submit, attempt

Operator = Callable[[], SignedIn]


class SavingDialog(Protocol):
    """A dialog of a Setup page that says what it saved (``saved``, GUI thread)."""

    @property
    def saved(self) -> SignalInstance: ...

    @property
    def finished(self) -> SignalInstance: ...

    def open(self) -> None: ...

    def deleteLater(self) -> None: ...


class SetupPage(QWidget):
    """``rows()`` (off the GUI thread) gives the table's rows; ``changed`` says something was
    saved (GUI thread), so the Setup screen's guide and the other screens refresh."""

    changed = Signal()

    def __init__(
        self,
        db: Database,
        operator: Operator,
        title: str,
        purpose: str,
        columns: list[Column],
        placeholder: str,
        parent: QWidget | None = None,
        *,
        badges: tuple[int, ...] = (),
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.operator = operator
        self.dialog: SavingDialog | None = None  # the dialog now open (tests, screenshots)
        self._actions: list[tuple[QPushButton, Action | None, bool]] = []
        heading = QLabel(title)
        heading.setObjectName("pageTitle")
        self.purpose = label(purpose, "pageSubtitle")
        self.list = SearchableTable(columns, placeholder, badge_columns=badges)
        self.list.current_changed.connect(lambda _row: self.refresh_actions())
        self.bar = QHBoxLayout()
        self.bar.setSpacing(8)
        self.message = label("", "pageMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(heading)
        layout.addWidget(self.purpose)
        layout.addLayout(self.bar)
        layout.addWidget(self.message)
        layout.addWidget(self.list, 1)

    # -- actions ---------------------------------------------------------------------------

    def action(
        self,
        text: str,
        run: Callable[[], object],
        needs: Action | None = None,
        *,
        on_row: bool = False,
        name: str = "",
    ) -> QPushButton:
        """A button of the page; ``on_row``: it works on the chosen row (off without one)."""
        button = QPushButton(text)
        if name:
            button.setObjectName(name)
        button.clicked.connect(lambda: run())
        self.bar.addWidget(button)
        self._actions.append((button, needs, on_row))
        return button

    def end_actions(self) -> None:
        self.bar.addStretch(1)
        self.refresh_actions()

    def refresh_actions(self) -> None:
        """Buttons on or off for who is signed in and what is chosen."""
        role = self.operator().role
        chosen = self.list.current_row() is not None
        for button, needs, on_row in self._actions:
            may = needs is None or allowed(role, needs)
            button.setEnabled(may and (chosen or not on_row))
            button.setToolTip("" if may else not_allowed_note(role, needs))  # type: ignore[arg-type]

    # -- loading -----------------------------------------------------------------------------

    def rows(self) -> Sequence[Any]:
        raise NotImplementedError

    def choices(self) -> Any:
        """What this page's forms offer (buildings, buses, rooms, the currency), read off the
        GUI thread just before a form opens; pages whose forms offer such things override it
        and ``take_choices``."""
        return None

    def take_choices(self, choices: Any) -> None:
        """Keep what ``choices`` read (on the GUI thread, so a form never sees half of it)."""

    def fresh(self, use: Callable[[], None]) -> Callable[[], None]:
        """An action that runs ``use`` once ``choices`` has been read again: a building or bus
        added a moment ago, on this page or on another console, must be offered, and the
        table's reload may not have finished."""

        def loaded(choices: Any) -> None:
            self.take_choices(choices)
            use()

        return lambda: self.then(self.choices, loaded)

    def search_text(self, row: Any) -> str:
        return " ".join(str(v) for v in vars(row).values()) if hasattr(row, "__dict__") else ""

    def reload(self) -> None:
        keep = self.list.current_id()

        def load() -> PreparedRows:
            return prepare_rows(self.rows(), self.search_text)

        def done(prepared: PreparedRows) -> None:
            self.list.install(prepared)
            self.list.select_id(keep)
            self.refresh_actions()

        run_in_background(load, done, self.say, owner=self)

    def focus_search(self) -> None:
        self.list.focus_search()

    # -- doing -------------------------------------------------------------------------------

    def say(self, text: str, *, bad: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("bad", bad)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def form(
        self,
        title: str,
        subtitle: str,
        fields: Sequence[FieldSpec],
        submit: Submit,
        done: Callable[[Any], str],
        *,
        confirm: str,
    ) -> SetupFormDialog:
        """Open a form; ``submit(values, who)`` saves off the GUI thread (``who``: the operator
        when the form was confirmed); once saved, reload, say ``done(result)`` and emit
        ``changed``."""
        dialog = SetupFormDialog(
            title, subtitle, fields, submit, self.operator, confirm=confirm, parent=self
        )
        self.show_dialog(dialog, lambda result: self._saved(done(result)))
        return dialog

    def show_dialog(self, dialog: SavingDialog, on_saved: Callable[[Any], None]) -> None:
        """Open ``dialog`` as the page's dialog (``self.dialog`` until it closes, then deleted);
        ``on_saved`` gets what it saved (GUI thread)."""
        self.dialog = dialog
        dialog.saved.connect(on_saved)
        dialog.finished.connect(lambda _code: self._closed(dialog))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _closed(self, dialog: SavingDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def _saved(self, text: str) -> None:
        self.say(text)
        self.reload()
        self.changed.emit()

    def run(self, work: Callable[[], Any], done: Callable[[Any], str | tuple[str, bool]]) -> None:
        """Do ``work`` off the GUI thread; say what became of it (``done`` may answer (text,
        bad) for a result that is not good news, such as a preview with problems)."""

        def answered(outcome: Any) -> None:
            if outcome.failed:
                self.say(outcome.message, bad=True)
                return
            said = done(outcome.value)
            if isinstance(said, tuple):
                self.say(said[0], bad=said[1])
                self.reload()
            else:
                self._saved(said)

        run_in_background(
            lambda: attempt(work), answered, lambda t: self.say(t, bad=True), owner=self
        )

    def then(self, load: Callable[[], Any], use: Callable[[Any], None]) -> None:
        """Load what a form offers (off the GUI thread), then open it with ``use``."""
        run_in_background(load, use, lambda t: self.say(t, bad=True), owner=self)
