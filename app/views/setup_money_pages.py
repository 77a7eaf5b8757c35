"""The Setup screen's pages for what prices: tariffs (import a file, export it, assign a plan)
and balance policies (edit in a form or import a file, assign to accounts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.billing.file_problems import FileProblemsError
from app.billing.policy_file import PolicyValues
from app.billing.policy_form import policy_from_fields, policy_to_fields
from app.queries.setup_lists import PolicyRow, list_policies
from app.queries.site_facts import site_info
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.policy_setup import (
    assign_policy,
    export_policy_of,
    import_policy,
    save_policy,
    stored_policy_of,
)
from app.services.setup_checks import in_transaction
from app.services.tariff_assign import assign_tariff
from app.services.tariff_library import export_tariff_of, import_tariff_file, plans_of
from app.store.database import Database
from app.ui.row_table_model import Column
from app.views.setup_files import (
    BuildingsPage,
    assign_form,
    export_chosen,
    first_problem_refused,
    import_toml,
)
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import Operator
from app.vocabulary import DEFAULT_CURRENCY


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupMoney", text)


class TariffsPage(BuildingsPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Plan"), lambda r: r.name),
            Column(_t("Utility"), lambda r: r.utility),
            Column(_t("Unit"), lambda r: r.unit),
            Column(
                _t("In force since"),
                lambda r: next((str(v.effective_from) for v in r.versions if v.in_force), "—"),
            ),
            Column(_t("Versions"), lambda r: str(len(r.versions))),
        ]
        super().__init__(
            db,
            operator,
            _t("Tariffs"),
            _t(
                "Tariffs are files (single rate, time of use, tiers, allowances, fees): import "
                "one, and a later file with a new effective date adds a version."
            ),
            columns,
            _t("Search plans"),
            parent,
        )
        self.action(
            _t("Import tariff file…"), self.import_file, Action.CHANGE_TARIFF, name="importTariff"
        )
        self.action(_t("Export…"), self.export, None, on_row=True)
        self.action(
            _t("Assign to accounts…"), self.fresh(self.assign), Action.CHANGE_TARIFF, on_row=True
        )
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        return plans_of(self.db)

    def search_text(self, row: Any) -> str:
        return f"{row.name} {row.utility}"

    def import_file(self, path: str | None = None) -> None:
        import_toml(
            self,
            _t("Import a tariff file"),
            import_tariff_file,
            lambda r: _t("Tariff {name}: {outcome}.").format(
                name=r.plan_name, outcome=r.outcome.value
            ),
            path,
        )

    def export(self) -> None:
        export_chosen(self, _t("Export the tariff"), export_tariff_of)

    def assign(self) -> None:
        row = self.list.current_row()
        if row is None:
            return
        assign_form(
            self,
            assign_tariff,
            row.name,
            _t("Bill accounts on {plan}").format(plan=row.name),
            _t(
                "Their {utility} usage from now on; choose a building (and floor) or name accounts."
            ).format(utility=row.utility),
            lambda changed: _t("{n} accounts now on {plan}.").format(n=len(changed), plan=row.name),
        )


class PoliciesPage(BuildingsPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Policy"), lambda r: r.name),
            Column(_t("Warnings"), lambda r: f"{r.alarm_1} / {r.alarm_2}"),
            Column(_t("Overdraft"), lambda r: r.overdraft_limit),
            Column(_t("Restore at"), lambda r: r.close_permit),
            Column(_t("Hoard limit"), lambda r: r.hoard_limit or "—"),
            Column(_t("Friendly hours"), lambda r: r.friendly_hours),
            Column(_t("Accounts"), lambda r: str(r.accounts), sort_key=lambda r: r.accounts),
        ]
        super().__init__(
            db,
            operator,
            _t("Balance policies"),
            _t(
                "When to warn (alarm 1 and 2), how far a balance may go below zero, the balance "
                "that restores a cut room, the largest balance, and hours when nobody is cut."
            ),
            columns,
            _t("Search policies"),
            parent,
        )
        self.currency = DEFAULT_CURRENCY
        fresh = self.fresh
        self.action(_t("New policy…"), fresh(self.new), Action.CHANGE_POLICY, name="newPolicy")
        self.action(_t("Edit…"), fresh(self.edit), Action.CHANGE_POLICY, on_row=True)
        self.action(_t("Import file…"), self.import_file, Action.CHANGE_POLICY)
        self.action(_t("Export…"), self.export, None, on_row=True)
        self.action(
            _t("Assign to accounts…"), fresh(self.assign), Action.CHANGE_POLICY, on_row=True
        )
        self.end_actions()

    def choices(self) -> tuple[list[str], str]:
        info = site_info(self.db)
        return super().choices(), info.currency if info else DEFAULT_CURRENCY

    def take_choices(self, choices: tuple[list[str], str]) -> None:
        buildings, self.currency = choices
        super().take_choices(buildings)

    def rows(self) -> Sequence[Any]:
        return list_policies(self.db)

    def search_text(self, row: Any) -> str:
        return str(row.name)

    def _form(self, values: PolicyValues | None) -> None:
        db, currency = self.db, self.currency
        texts = policy_to_fields(values, currency) if values else {}
        keys = (
            ("name", _t("Name"), ""),
            ("alarm_1", _t("First warning at"), _t("e.g. 20.00")),
            ("alarm_2", _t("Second warning at"), _t("e.g. 5.00")),
            ("overdraft_limit", _t("Overdraft limit"), _t("0: cut at zero")),
            ("close_permit", _t("Restore at"), _t("a cut room is restored at this balance")),
            ("hoard_limit", _t("Hoard limit"), _t("empty: none")),
            (
                "friendly_hours_text",
                _t("Friendly hours"),
                _t("mon-fri 22:00-08:00; sat,sun 00:00-24:00"),
            ),
            ("friendly_dates_text", _t("Friendly dates"), _t("2026-10-01, 2026-10-02")),
        )
        fields = [
            FieldSpec(
                key,
                text,
                value=texts.get(key, ""),
                placeholder=hint,
                aliases=(key.removesuffix("_text"),),
            )
            for key, text, hint in keys
        ]

        def submit(v: Mapping[str, str], who: SignedIn) -> Any:
            try:
                values = policy_from_fields(currency=currency, **dict(v))
            except FileProblemsError as exc:
                raise first_problem_refused(exc) from None
            return in_transaction(db, save_policy, who, values)

        self.form(
            _t("Balance policy"),
            _t("Amounts in {currency}.").format(currency=currency),
            fields,
            submit,
            lambda saved: _t("Policy {name}: {outcome}.").format(
                name=saved.name, outcome=saved.outcome
            ),
            confirm=_t("Save"),
        )

    def new(self) -> None:
        self._form(None)

    def edit(self) -> None:
        row: PolicyRow | None = self.list.current_row()
        if row is not None:
            db = self.db
            self.then(lambda: stored_policy_of(db, row.name), self._form)

    def import_file(self, path: str | None = None) -> None:
        import_toml(
            self,
            _t("Import a policy file"),
            import_policy,
            lambda saved: _t("Policy {name}: {outcome}.").format(
                name=saved.name, outcome=saved.outcome
            ),
            path,
        )

    def export(self) -> None:
        export_chosen(self, _t("Export the policy"), export_policy_of)

    def assign(self) -> None:
        row = self.list.current_row()
        if row is None:
            return
        assign_form(
            self,
            assign_policy,
            row.name,
            _t("Put accounts on {policy}").format(policy=row.name),
            _t("Choose a building (and floor), or name the accounts."),
            lambda moved: _t("{n} accounts now on {policy}.").format(n=len(moved), policy=row.name),
        )
