"""One dialog for every set-up form (site, building, room, bus, meter, operator, setting...):
fields declared as data, the service called off the GUI thread, and a refusal shown under the
field it names with the focus there.

The service refuses with ``Refused`` (``field`` names the input); the dialog maps that field
to its own row (``FieldSpec.key``, or ``FieldSpec.aliases``), shows the message in that row's
error line, and keeps everything typed. A permission refusal is shown in the dialog's error
line. Enter submits, Esc cancels (and waits for a call in flight).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from app.services.operators import OperatorRefused, SignedIn
from app.services.permissions import PermissionDenied
from app.services.service_checks import Refused
from app.services.settings import SettingRefused
from app.services.tariff_library import TariffLibraryError
from app.ui.background import run_in_background
from app.views.form_dialog import FormDialog, label, with_notes


@dataclass(frozen=True)
class FieldSpec:
    """One input. ``kind``: text, password, lines (several lines), choice (a fixed list),
    editable (a list to pick from or type into), check (yes/no)."""

    key: str
    label: str
    kind: str = "text"
    choices: Sequence[tuple[str, str]] = ()  # (shown, value)
    hint: str = ""
    value: str = ""
    aliases: tuple[str, ...] = ()  # other names the service gives this input
    placeholder: str = ""


Submit = Callable[[Mapping[str, str], SignedIn], Any]  # (the form's values, who saves)


@dataclass
class _Outcome:
    value: Any = None
    field: str = ""
    message: str = ""
    failed: bool = False


def attempt(work: Callable[[], Any]) -> _Outcome:
    """Run ``work`` (in the worker thread) and say what became of it, refusals included."""
    try:
        return _Outcome(work())
    except Refused as exc:
        return _Outcome(field=exc.field, message=str(exc), failed=True)
    except (PermissionDenied, OperatorRefused, SettingRefused, TariffLibraryError) as exc:
        return _Outcome(message=str(exc), failed=True)


class SetupFormDialog(FormDialog):
    """``submit(values, who)`` runs off the GUI thread with every field's text ("yes"/"no" for
    a check) and the operator signed in when the form was confirmed (``operator()`` is asked on
    the GUI thread: a lock and another sign-in while the call runs cannot change who saves);
    what it returns is ``saved``."""

    saved = Signal(object)  # what submit returned (GUI thread)

    def __init__(
        self,
        title: str,
        subtitle: str,
        fields: Sequence[FieldSpec],
        submit: Submit,
        operator: Callable[[], SignedIn],
        *,
        confirm: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(520, parent)
        self.setWindowTitle(title)
        self.title.setText(title)
        self.subtitle.setText(subtitle)
        self.subtitle.setVisible(bool(subtitle))
        self._submit = submit
        self._operator = operator
        self.specs = list(fields)
        self.inputs: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setSpacing(8)
        for spec in self.specs:
            widget = self._input(spec)
            widget.setObjectName(f"field_{spec.key}")
            self.inputs[spec.key] = widget
            error = label("", "fieldError")
            error.hide()
            self.errors[spec.key] = error
            notes = [error]
            if spec.hint:
                notes.insert(0, label(spec.hint, "fieldHint"))
            form.addRow(spec.label, with_notes(widget, *notes))
        self.add_middle(form)
        self.confirm_button = QPushButton(confirm)
        self.confirm_button.setDefault(True)
        self.confirm_button.clicked.connect(self.submit)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        if self.specs:
            self.inputs[self.specs[0].key].setFocus()

    def _input(self, spec: FieldSpec) -> QWidget:
        if spec.kind in ("choice", "editable"):
            combo = QComboBox()
            combo.setEditable(spec.kind == "editable")
            for shown, value in spec.choices:
                combo.addItem(shown, value)
            if spec.value:
                at = combo.findData(spec.value)
                if at >= 0:
                    combo.setCurrentIndex(at)
                elif combo.isEditable():
                    combo.setEditText(spec.value)
            return combo
        if spec.kind == "check":
            box = QCheckBox()
            box.setChecked(spec.value in ("yes", "true", "1"))
            return box
        if spec.kind == "lines":
            edit = QPlainTextEdit(spec.value)
            edit.setTabChangesFocus(True)
            edit.setFixedHeight(78)
            return edit
        line = QLineEdit(spec.value)
        line.setPlaceholderText(spec.placeholder)
        if spec.kind == "password":
            line.setEchoMode(QLineEdit.EchoMode.Password)
        line.textEdited.connect(lambda _t, key=spec.key: self._clear(key))
        return line

    def value(self, key: str) -> str:
        widget = self.inputs[key]
        if isinstance(widget, QComboBox):
            if widget.isEditable():
                text = widget.currentText()
                at = widget.findText(text)
                data = widget.itemData(at) if at >= 0 else None
                return str(data) if data is not None else text.strip()
            data = widget.currentData()
            return "" if data is None else str(data)
        if isinstance(widget, QCheckBox):
            return "yes" if widget.isChecked() else "no"
        if isinstance(widget, QPlainTextEdit):
            return widget.toPlainText()
        assert isinstance(widget, QLineEdit)
        return widget.text()

    def values(self) -> dict[str, str]:
        return {spec.key: self.value(spec.key) for spec in self.specs}

    def _clear(self, key: str) -> None:
        self.errors[key].hide()
        self.show_error("")

    def _row_of(self, name: str) -> str | None:
        for spec in self.specs:
            if name == spec.key or name in spec.aliases:
                return spec.key
        return None

    def submit(self) -> None:
        if self.busy:
            return
        for error in self.errors.values():
            error.hide()
        self.show_error("")
        self._busy = True
        self.confirm_button.setEnabled(False)
        values, who = self.values(), self._operator()
        run_in_background(
            lambda: attempt(lambda: self._submit(values, who)),
            self._answered,
            self._crashed,
            owner=self,
        )

    def _crashed(self, text: str) -> None:
        self._busy = False
        self.confirm_button.setEnabled(True)
        self.show_error(text)

    def _answered(self, outcome: _Outcome) -> None:
        self._busy = False
        self.confirm_button.setEnabled(True)
        if not outcome.failed:
            self.saved.emit(outcome.value)
            self.accept()
            return
        row = self._row_of(outcome.field) if outcome.field else None
        if row is None:
            self.show_error(outcome.message)
            return
        self.show_at(self.errors[row], outcome.message, self.inputs[row])
