"""The Setup screen's "Text messages" page: the wording of each notice to tenants in English and
Chinese (the site's own or the shipped one), changed, turned off or put back, and a test text
through the modem the settings name (``sms_port``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.hardware.sms.modem import SmsFailed
from app.services.notice_templates import (
    PLACEHOLDERS,
    TemplateInUse,
    TemplateRefused,
    set_template,
    templates_in_use,
)
from app.services.notice_test import TestSent, send_test_text
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused
from app.store.database import Database
from app.ui.row_table_model import Column
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import Operator, SetupPage
from app.vocabulary import NoticeKind


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupNotices", text)


def kind_labels() -> dict[NoticeKind, str]:
    return {
        NoticeKind.LOW_BALANCE_1: _t("Low balance 1"),
        NoticeKind.LOW_BALANCE_2: _t("Low balance 2"),
        NoticeKind.CUT_OFF: _t("Cut off"),
        NoticeKind.RECHARGE: _t("Recharge received"),
        NoticeKind.RESTORED: _t("Supply restored"),
        NoticeKind.LOAD_TRIP: _t("Load-guard trip"),
    }


LANGUAGE_NAMES = {"en": "English", "zh": "中文"}


@dataclass(frozen=True)
class TemplateRow:
    id: int
    kind: NoticeKind
    language: str
    text: str
    own: bool


class NoticesPage(SetupPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        labels = kind_labels()
        columns = [
            Column(_t("Notice"), lambda r: labels[r.kind]),
            Column(_t("Language"), lambda r: LANGUAGE_NAMES[r.language]),
            Column(_t("Whose"), lambda r: _t("the site's") if r.own else _t("shipped")),
            Column(_t("Wording"), lambda r: r.text or _t("(not sent)")),
        ]
        super().__init__(
            db,
            operator,
            _t("Text messages"),
            _t(
                "What tenants are texted, in each language; the language and quiet hours are "
                "settings (sms_language, sms_quiet_hours), the modem too (sms_port)."
            ),
            columns,
            _t("Search wordings"),
            parent,
        )
        self.action(
            _t("Change wording…"),
            self.change,
            Action.CHANGE_POLICY,
            on_row=True,
            name="changeWording",
        )
        self.action(
            _t("Back to shipped"),
            self.put_back,
            Action.CHANGE_POLICY,
            on_row=True,
            name="shippedWording",
        )
        self.action(_t("Send a test text…"), self.test, Action.CHANGE_POLICY, name="testText")
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        return [
            TemplateRow(index, t.kind, t.language, t.text, t.own)
            for index, t in enumerate(templates_in_use(self.db), start=1)
        ]

    def search_text(self, row: Any) -> str:
        return f"{row.kind.value} {kind_labels()[row.kind]} {row.language} {row.text}"

    def change(self) -> None:
        row: TemplateRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        fills = " ".join("{" + name + "}" for name in PLACEHOLDERS[row.kind])
        self.form(
            _t("{notice} in {language}").format(
                notice=kind_labels()[row.kind], language=LANGUAGE_NAMES[row.language]
            ),
            _t("Filled in when a notice is written: {fills}. Leave it empty to send none.").format(
                fills=fills
            ),
            [FieldSpec("text", _t("Wording"), "lines", value=row.text)],
            lambda values, who: _saved(db, who, row, values["text"]),
            lambda _saved: _t("Wording saved."),
            confirm=_t("Save"),
        )

    def put_back(self) -> None:
        row: TemplateRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        self.form(
            _t("Back to the shipped wording"),
            _t("{notice} in {language} goes back to the wording MeterDesk ships.").format(
                notice=kind_labels()[row.kind], language=LANGUAGE_NAMES[row.language]
            ),
            [],
            lambda _values, who: _saved(db, who, row, None),
            lambda _saved: _t("The shipped wording is used again."),
            confirm=_t("Put back"),
        )

    def test(self) -> None:
        db = self.db
        self.form(
            _t("Send a test text"),
            _t(
                "Opens the modem, asks its maker, signal and SIM, and sends one message. It "
                "takes a few seconds."
            ),
            [
                FieldSpec("to", _t("Phone"), placeholder="+8613800138000"),
                FieldSpec("text", _t("Text"), "lines", value=_t("MeterDesk test message")),
            ],
            lambda values, who: _tested(db, who, values),
            lambda sent: _t("Modem {info}: {result}.").format(
                info=sent.info.describe(), result=sent.result.describe()
            ),
            confirm=_t("Send"),
        )


def _saved(db: Database, who: SignedIn, row: TemplateRow, text: str | None) -> TemplateInUse:
    try:
        return set_template(db, who, row.kind.value, row.language, text)
    except TemplateRefused as exc:
        raise SetupRefused("text", str(exc).capitalize() + ".") from None


def _tested(db: Database, who: SignedIn, values: Mapping[str, str]) -> TestSent:
    try:
        return send_test_text(db, who, values["to"].strip(), values["text"].strip())
    except SmsFailed as exc:
        raise SetupRefused("", str(exc).capitalize() + ".") from None
    except ValueError as exc:  # no modem set, a bad number or text
        field = "to" if "number" in str(exc) or "digits" in str(exc) else ""
        raise SetupRefused(field, str(exc).capitalize() + ".") from None
