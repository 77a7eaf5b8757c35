"""The Setup screen's pages for administrators: operators (add, role, switch off and on, new
password, lift a sign-in lock) and the site settings (each declared once in
``app.services.settings``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.services.operators import (
    SignedIn,
    add_operator,
    change_role,
    list_operators,
    reset_password,
    set_active,
    unlock,
)
from app.services.permissions import Action
from app.services.settings import SETTINGS, SPECS, change_setting, shown_settings
from app.services.setup_checks import SetupRefused, in_transaction
from app.store.database import Database
from app.ui.formatting import local_time_text
from app.ui.row_table_model import Column
from app.views.login_dialog import role_label
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import Operator, SetupPage
from app.vocabulary import Role


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupPeople", text)


@dataclass(frozen=True)
class OperatorRow:
    id: int  # the operator's database id: the row stays chosen across reloads
    username: str
    display_name: str
    role: Role
    active: bool
    last_login_at: str
    locked_until: str  # "" when the name may sign in


def _roles() -> list[tuple[str, str]]:
    return [(role_label(role), role.value) for role in Role]


def _same(a: str, b: str) -> str:
    if a != b:
        raise SetupRefused("confirm", _t("The two passwords differ; type the same twice."))
    return a


class OperatorsPage(SetupPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("User"), lambda r: r.username),
            Column(_t("Name"), lambda r: r.display_name),
            Column(_t("Role"), lambda r: role_label(r.role)),
            Column(_t("Active"), lambda r: _t("yes") if r.active else _t("switched off")),
            Column(_t("Last sign-in"), lambda r: r.last_login_at),
            Column(
                _t("Sign-in"),
                lambda r: (
                    _t("locked until {time}").format(time=r.locked_until) if r.locked_until else ""
                ),
            ),
        ]
        super().__init__(
            db,
            operator,
            _t("Operators"),
            _t(
                "Who may sign in and what their role lets them do. An operator who leaves is "
                "switched off, never deleted: the records keep their name."
            ),
            columns,
            _t("Search operators"),
            parent,
        )
        self.action(_t("Add operator…"), self.add, Action.MANAGE_OPERATORS, name="addOperator")
        self.action(_t("Change role…"), self.role, Action.MANAGE_OPERATORS, on_row=True)
        self.action(_t("Switch off / on"), self.switch, Action.MANAGE_OPERATORS, on_row=True)
        self.action(_t("New password…"), self.password, Action.MANAGE_OPERATORS, on_row=True)
        self.action(_t("Unlock"), self.unlock, Action.MANAGE_OPERATORS, on_row=True)
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        return [
            OperatorRow(
                cast(int, o["id"]),
                str(o["username"]),
                str(o["display_name"]),
                Role(str(o["role"])),
                bool(o["active"]),
                local_time_text(
                    datetime.fromisoformat(str(o["last_login_at"])) if o["last_login_at"] else None
                ),
                local_time_text(datetime.fromisoformat(str(o["locked_until"])))
                if o["locked_until"]
                else "",
            )
            for o in list_operators(self.db)
        ]

    def search_text(self, row: Any) -> str:
        return f"{row.username} {row.display_name} {row.role.value}"

    def add(self) -> None:
        db = self.db

        def submit(v: Mapping[str, str], who: SignedIn) -> Any:
            password = _same(v["password"], v["confirm"])
            return in_transaction(
                db,
                add_operator,
                who,
                v["username"],
                v["display_name"],
                Role(v["role"]),
                password,
            )

        self.form(
            _t("Add an operator"),
            _t("The password has at least 8 characters; the operator can be given a new one."),
            [
                FieldSpec("username", _t("User name"), aliases=("key",)),
                FieldSpec("display_name", _t("Full name")),
                FieldSpec("role", _t("Role"), "choice", _roles(), value=Role.CASHIER.value),
                FieldSpec("password", _t("Password"), "password"),
                FieldSpec("confirm", _t("Again"), "password"),
            ],
            submit,
            lambda who: _t("{name} added as {role}.").format(
                name=who.username, role=role_label(who.role)
            ),
            confirm=_t("Add"),
        )

    def role(self) -> None:
        row: OperatorRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        self.form(
            _t("Role of {name}").format(name=row.username),
            "",
            [FieldSpec("role", _t("Role"), "choice", _roles(), value=row.role.value)],
            lambda v, who: in_transaction(db, change_role, who, row.username, Role(v["role"])),
            lambda who: _t("{name} is now {role}.").format(
                name=who.username, role=role_label(who.role)
            ),
            confirm=_t("Save"),
        )

    def switch(self) -> None:
        row: OperatorRow | None = self.list.current_row()
        if row is None:
            return
        db, by = self.db, self.operator()
        self.run(
            lambda: in_transaction(db, set_active, by, row.username, not row.active),
            lambda who: (
                _t("{name} is switched back on.")
                if not row.active
                else _t("{name} is switched off.")
            ).format(name=who.username),
        )

    def unlock(self) -> None:
        """Let an operator locked out by wrong passwords sign in again at once."""
        row: OperatorRow | None = self.list.current_row()
        if row is None:
            return
        db, by = self.db, self.operator()
        self.run(
            lambda: in_transaction(db, unlock, by, row.username),
            lambda lifted: (
                _t("{name} may sign in again.") if lifted else _t("{name} was not locked.")
            ).format(name=row.username),
        )

    def password(self) -> None:
        row: OperatorRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db

        def submit(v: Mapping[str, str], who: SignedIn) -> Any:
            password = _same(v["password"], v["confirm"])
            return in_transaction(db, reset_password, who, row.username, password)

        self.form(
            _t("New password for {name}").format(name=row.username),
            "",
            [
                FieldSpec("password", _t("Password"), "password"),
                FieldSpec("confirm", _t("Again"), "password"),
            ],
            submit,
            lambda who: _t("The password of {name} was changed.").format(name=who.username),
            confirm=_t("Save"),
        )


@dataclass(frozen=True)
class SettingRow:
    id: int
    key: str
    label: str
    value: str
    help: str


class SettingsPage(SetupPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Setting"), lambda r: r.label),
            Column(_t("Value"), lambda r: r.value),
            Column(_t("What it does"), lambda r: r.help),
        ]
        super().__init__(
            db,
            operator,
            _t("Settings"),
            _t("The site's settings; each change is recorded with who made it."),
            columns,
            _t("Search settings"),
            parent,
        )
        self.action(
            _t("Change…"), self.change, Action.CHANGE_POLICY, on_row=True, name="changeSetting"
        )
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        values = shown_settings(self.db)
        return [
            SettingRow(i, spec.key, spec.label, values[spec.key], spec.help)
            for i, spec in enumerate(SETTINGS, start=1)
        ]

    def search_text(self, row: Any) -> str:
        return f"{row.key} {row.label} {row.help}"

    def change(self) -> None:
        row: SettingRow | None = self.list.current_row()
        if row is None:
            return
        spec = SPECS[row.key]
        kind = "choice" if spec.kind == "choice" else "text"
        db = self.db
        self.form(
            spec.label,
            spec.help,
            [
                FieldSpec(
                    "value",
                    spec.label,
                    kind,
                    [(c, c) for c in spec.choices],
                    value=row.value,
                    aliases=(row.key,),
                )
            ],
            lambda v, who: in_transaction(db, change_setting, who, row.key, v["value"]),
            lambda _value: _t("{label} saved.").format(label=spec.label),
            confirm=_t("Save"),
        )
