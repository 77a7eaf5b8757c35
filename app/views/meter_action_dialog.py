"""The small form behind each action of the Meter detail: a reason (a note for a load-guard
restore; an end time too for keep power), then the action, then its outcome in the form.

``submit(reason, until)`` starts the action and returns a ``concurrent.futures.Future`` at once:
the runtime's future of a switch or restore (resolved when the meter's read-back is recorded), or
``future_in_background`` around a service call (keep power). The answer is posted to the GUI
thread; a refusal (``Refused`` with its ``field``, ``PermissionDenied``) shows at the field it
names, anything else on the error line.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from PySide6.QtCore import QDateTime, QObject, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.services.meter_actions import KEEP_POWER_MAX, REASON_MAX
from app.services.permissions import PermissionDenied
from app.services.service_checks import Refused
from app.ui.background import run_in_background
from app.ui.gui_calls import GuiCalls
from app.views.form_dialog import FormDialog, label, with_notes

ACTION_WIDTH = 520


def future_in_background(work: Callable[[], Any], owner: QObject) -> Future[Any]:
    """``work()`` in the background pool as a future; a refusal is its exception (with its
    field), a crash a RuntimeError with the message."""
    future: Future[Any] = Future()

    def guarded() -> object:
        try:
            return work()
        except (Refused, PermissionDenied) as exc:
            return exc

    def done(result: object) -> None:
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    run_in_background(
        guarded, done, lambda message: future.set_exception(RuntimeError(message)), owner=owner
    )
    return future


class MeterActionDialog(FormDialog):
    """A reason (and for keep power an end time), then ``submit(reason, until)`` which returns
    a future at once; its outcome is described by ``describe`` and shown here. Refusals show at
    the field they name. ``completed(result)`` is emitted on the GUI thread once done. While
    it waits for a meter's read-back, Close leaves it running: its outcome then shows in the
    detail's command list."""

    completed = Signal(object)

    def __init__(
        self,
        title: str,
        subtitle: str,
        confirm_text: str,
        reason_label: str,
        reason_hint: str,
        submit: Callable[[str, datetime | None], Future[Any]],
        describe: Callable[[Any], str],
        *,
        waiting_text: str = "",
        with_until: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(ACTION_WIDTH, parent)
        self.setModal(True)
        self.setWindowTitle(title)
        self.title.setText(title)
        self.subtitle.setText(subtitle)
        self._submit, self._describe, self._waiting_text = submit, describe, waiting_text
        self._calls = GuiCalls()
        self._done = False
        self.result: Any = None

        form = QFormLayout()
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        self.reason = QLineEdit()
        self.reason.setObjectName("actionReason")
        self.reason.setMaxLength(REASON_MAX)
        self.reason.setPlaceholderText(reason_hint)
        self.reason_error = label("", "fieldError")
        self.reason_error.hide()
        form.addRow(reason_label, with_notes(self.reason, self.reason_error))
        self.until: QDateTimeEdit | None = None
        self.until_error = label("", "fieldError")
        self.until_error.hide()
        if with_until:
            now = QDateTime.currentDateTime()
            self.until = QDateTimeEdit(now.addDays(1))
            self.until.setObjectName("keepPowerUntil")
            self.until.setCalendarPopup(True)
            self.until.setDisplayFormat("yyyy-MM-dd HH:mm")
            self.until.setMinimumDateTime(now.addSecs(60))
            self.until.setMaximumDateTime(now.addDays(KEEP_POWER_MAX.days))
            note = label(
                self.tr("This PC's local time; at most {days} days ahead.").format(
                    days=KEEP_POWER_MAX.days
                ),
                "fieldNote",
            )
            form.addRow(self.tr("&Until"), with_notes(self.until, note, self.until_error))
        self.add_middle(form)
        self.result_note = label("", "doneNote")
        self.result_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_note.hide()
        self.body.insertWidget(self.body.indexOf(self.error) + 1, self.result_note)

        self.confirm_button = QPushButton(confirm_text)
        self.confirm_button.setObjectName("actionConfirm")
        self.confirm_button.setDefault(True)
        self.confirm_button.clicked.connect(self.confirm)
        self.buttons.addButton(self.confirm_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.reason.textEdited.connect(lambda _text: self.reason_error.hide())
        self.finished.connect(lambda _code: self._calls.close())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._done:
            self.reason.setFocus(Qt.FocusReason.OtherFocusReason)

    def until_value(self) -> datetime | None:
        """The chosen end as an aware datetime (the PC's zone), None without the field."""
        if self.until is None:
            return None
        chosen: datetime = self.until.dateTime().toPython()  # type: ignore[assignment]
        return chosen.astimezone()

    def confirm(self) -> None:
        if self._done or not self.confirm_button.isEnabled():
            return
        self.reason_error.hide()
        self.until_error.hide()
        self.show_error("")
        self.confirm_button.setEnabled(False)
        try:
            future = self._submit(self.reason.text(), self.until_value())
        except (Refused, PermissionDenied) as exc:
            self._refused(exc)
            return
        if self._waiting_text:
            self.result_note.setText(self._waiting_text)
            self.result_note.show()
            self.cancel_button.setText(self.tr("Close"))
            self.fit()
        future.add_done_callback(lambda f: self._calls.post(lambda: self._answered(f)))

    def _answered(self, future: Future[Any]) -> None:
        self.result_note.hide()
        exc = future.exception()
        if exc is not None:
            self._refused(exc)
            return
        self.result = future.result()
        self._done = True
        self.reason.setEnabled(False)
        if self.until is not None:
            self.until.setEnabled(False)
        self.error.hide()
        self.result_note.setText(self._describe(self.result))
        self.result_note.show()
        self.confirm_button.hide()
        self.cancel_button.setText(self.tr("Close"))
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus(Qt.FocusReason.OtherFocusReason)
        self.fit()
        self.completed.emit(self.result)

    def _refused(self, exc: BaseException) -> None:
        self.confirm_button.setEnabled(True)
        self.cancel_button.setText(self.tr("Cancel"))
        field = exc.field if isinstance(exc, Refused) else ""
        if field in ("reason", "note"):
            self.show_at(self.reason_error, str(exc), self.reason)
        elif field == "until" and self.until is not None:
            self.show_at(self.until_error, str(exc), self.until)
        elif isinstance(exc, Refused | PermissionDenied):
            self.show_error(str(exc))
        else:
            self.show_error(
                self.tr("Not done: {error}. Press Enter to try again.").format(
                    error=f"{type(exc).__name__}: {exc}"
                )
            )

    @property
    def done_ok(self) -> bool:
        return self._done
