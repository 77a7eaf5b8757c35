"""The Setup screen's pages for what prices and protects: tariffs (import a file, export it,
assign a plan), balance policies (edit in a form or import a file, assign to accounts) and the
load guard (per site and per building)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from app.billing.file_problems import FileProblemsError
from app.billing.load_guard import LoadGuardParams
from app.billing.load_guard_form import load_guard_from_fields, load_guard_to_fields
from app.billing.policy_file import PolicyValues
from app.billing.policy_form import policy_from_fields, policy_to_fields
from app.billing.tariff import TariffFileError
from app.queries.setup_lists import PolicyRow, list_policies
from app.queries.site_layout import list_buildings
from app.services.load_guard_setup import (
    export_load_guard_of,
    import_load_guard,
    list_load_guards,
    save_load_guard,
)
from app.services.permissions import Action
from app.services.policy_setup import (
    assign_policy,
    export_policy_of,
    import_policy,
    save_policy,
    stored_policy_of,
)
from app.services.setup_checks import SetupRefused, in_transaction
from app.services.tariff_assign import assign_tariff
from app.services.tariff_library import (
    PlanInfo,
    TariffLibraryError,
    export_tariff_of,
    import_tariff_file,
    plans_of,
)
from app.store.database import Database
from app.ui.row_table_model import Column
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import Operator, SetupPage


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupMoney", text)


def read_text_file(path: str) -> str:
    """A UTF-8 file's text (bytes kept: a stored tariff keeps its line endings)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SetupRefused("file", _t("{path} is not UTF-8 text.").format(path=path)) from None
    except OSError as exc:
        raise SetupRefused(
            "file", _t("{path} cannot be read: {why}.").format(path=path, why=exc.strerror)
        ) from None


def problems_refused(exc: FileProblemsError | TariffFileError | TariffLibraryError) -> SetupRefused:
    text = "\n".join(exc.lines()) if isinstance(exc, FileProblemsError) else str(exc)
    return SetupRefused("file", text)


def write_text_file(path: str, text: str) -> str:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SetupRefused(
            "file", _t("{path} cannot be written: {why}.").format(path=path, why=exc.strerror)
        ) from None
    return path


def _where_fields(buildings: list[str]) -> list[FieldSpec]:
    return [
        FieldSpec(
            "building",
            _t("Building"),
            "choice",
            [(_t("(the accounts below)"), "")] + [(b, b) for b in buildings],
        ),
        FieldSpec("floor", _t("Floor"), placeholder=_t("every floor")),
        FieldSpec(
            "accounts", _t("Accounts"), hint=_t("Account numbers, separated by spaces or commas.")
        ),
    ]


def _where(v: Mapping[str, str]) -> dict[str, Any]:
    numbers = [n for n in v["accounts"].replace(",", " ").split() if n]
    floor = v["floor"].strip()
    if floor and not floor.lstrip("-").isdigit():
        raise SetupRefused("floor", _t("The floor {floor!r} is not a number.").format(floor=floor))
    return {
        "accounts": numbers or None,
        "building": v["building"] or None,
        "floor": int(floor) if floor else None,
    }


class TariffsPage(SetupPage):
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
        self.buildings: list[str] = []
        self.action(
            _t("Import tariff file…"), self.import_file, Action.CHANGE_TARIFF, name="importTariff"
        )
        self.action(_t("Export…"), self.export, None, on_row=True)
        self.action(_t("Assign to accounts…"), self.assign, Action.CHANGE_TARIFF, on_row=True)
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        self.buildings = [b.name for b in list_buildings(self.db)]
        return [_Plan(i, p) for i, p in enumerate(plans_of(self.db), start=1)]

    def search_text(self, row: Any) -> str:
        return f"{row.name} {row.utility}"

    def import_file(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, _t("Import a tariff file"), "", _t("Tariff files (*.toml)")
            )
        if not path:
            return
        db, who = self.db, self.operator()

        def work() -> Any:
            text = read_text_file(path)
            try:
                return in_transaction(db, import_tariff_file, who, text, path)
            except (TariffFileError, TariffLibraryError) as exc:
                raise problems_refused(exc) from None

        self.run(
            work,
            lambda r: _t("Tariff {name}: {outcome}.").format(
                name=r.plan_name, outcome=r.outcome.value
            ),
        )

    def export(self) -> None:
        row = self.list.current_row()
        if row is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, _t("Export the tariff"), f"{row.name}.toml", _t("Tariff files (*.toml)")
        )
        if path:
            db = self.db
            self.run(
                lambda: write_text_file(path, export_tariff_of(db, row.name)),
                lambda p: _t("Wrote {path}.").format(path=p),
            )

    def assign(self) -> None:
        row = self.list.current_row()
        if row is None:
            return
        db = self.db
        self.form(
            _t("Bill accounts on {plan}").format(plan=row.name),
            _t(
                "Their {utility} usage from now on; choose a building (and floor) or name accounts."
            ).format(utility=row.utility),
            _where_fields(self.buildings),
            lambda v: in_transaction(db, assign_tariff, self.operator(), row.name, **_where(v)),
            lambda changed: _t("{n} accounts now on {plan}.").format(n=len(changed), plan=row.name),
            confirm=_t("Assign"),
        )


@dataclass(frozen=True)
class _Plan:
    id: int
    info: PlanInfo

    def __getattr__(self, name: str) -> Any:
        return getattr(self.info, name)


class PoliciesPage(SetupPage):
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
        self.buildings: list[str] = []
        self.currency = "CNY"
        self.action(_t("New policy…"), self.new, Action.CHANGE_POLICY, name="newPolicy")
        self.action(_t("Edit…"), self.edit, Action.CHANGE_POLICY, on_row=True)
        self.action(_t("Import file…"), self.import_file, Action.CHANGE_POLICY)
        self.action(_t("Export…"), self.export, None, on_row=True)
        self.action(_t("Assign to accounts…"), self.assign, Action.CHANGE_POLICY, on_row=True)
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        self.buildings = [b.name for b in list_buildings(self.db)]
        rows = list_policies(self.db)
        self.currency = rows[0].currency if rows else self.currency
        return rows

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

        def submit(v: Mapping[str, str]) -> Any:
            try:
                values = policy_from_fields(currency=currency, **dict(v))
            except FileProblemsError as exc:
                key, message = exc.pairs()[0]
                raise SetupRefused(key.split("[")[0], message) from None
            return in_transaction(db, save_policy, self.operator(), values)

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

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, _t("Import a policy file"), "", _t("Policy files (*.toml)")
        )
        if not path:
            return
        db, who = self.db, self.operator()

        def work() -> Any:
            text = read_text_file(path)
            try:
                return in_transaction(db, import_policy, who, text, path)
            except FileProblemsError as exc:
                raise problems_refused(exc) from None

        self.run(
            work,
            lambda saved: _t("Policy {name}: {outcome}.").format(
                name=saved.name, outcome=saved.outcome
            ),
        )

    def export(self) -> None:
        row = self.list.current_row()
        if row is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, _t("Export the policy"), f"{row.name}.toml", _t("Policy files (*.toml)")
        )
        if path:
            db = self.db
            self.run(
                lambda: write_text_file(path, export_policy_of(db, row.name)),
                lambda p: _t("Wrote {path}.").format(path=p),
            )

    def assign(self) -> None:
        row = self.list.current_row()
        if row is None:
            return
        db = self.db
        self.form(
            _t("Put accounts on {policy}").format(policy=row.name),
            _t("Choose a building (and floor), or name the accounts."),
            _where_fields(self.buildings),
            lambda v: in_transaction(db, assign_policy, self.operator(), row.name, **_where(v)),
            lambda moved: _t("{n} accounts now on {policy}.").format(n=len(moved), policy=row.name),
            confirm=_t("Assign"),
        )


@dataclass(frozen=True)
class _Guard:
    id: int
    building: str
    params: LoadGuardParams


def _total_text(row: _Guard) -> str:
    p = row.params
    return f"{p.total_mode.value}: {p.total_limit_w:g} W, {p.total_duration_s:g} s"


def _increment_text(row: _Guard) -> str:
    p = row.params
    return f"{p.increment_mode.value}: PF ≥ {p.pf_threshold:.3f}, {len(p.bands)} bands"


class LoadGuardPage(SetupPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Where"), lambda r: r.building or _t("whole site")),
            Column(_t("Total power"), _total_text),
            Column(_t("New power"), _increment_text),
            Column(
                _t("Restore"),
                lambda r: _t("after {s:g} s, {n} a day").format(
                    s=r.params.restore_delay_s, n=r.params.max_auto_restores_per_day
                ),
            ),
        ]
        super().__init__(
            db,
            operator,
            _t("Load guard"),
            _t(
                "Trips dangerous heater loads: total power above a limit for a time, or a step "
                "up in a controlled band at a power factor near 1. A building's settings win "
                "over the site's."
            ),
            columns,
            _t("Search"),
            parent,
        )
        self.buildings: list[str] = []
        self.action(_t("Edit…"), self.edit, Action.CHANGE_POLICY, name="editLoadGuard")
        self.action(_t("Import file…"), self.import_file, Action.CHANGE_POLICY)
        self.action(_t("Export…"), self.export, None, on_row=True)
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        self.buildings = [b.name for b in list_buildings(self.db)]
        return [
            _Guard(i, r.building, r.params)
            for i, r in enumerate(list_load_guards(self.db), start=1)
        ]

    def search_text(self, row: Any) -> str:
        return str(row.building)

    def edit(self) -> None:
        row: _Guard | None = self.list.current_row()
        texts = load_guard_to_fields(row.params) if row else None
        bands = "; ".join(
            f"{low}-{high} {'yes' if controlled else 'no'}"
            for low, high, controlled in (texts["bands"] if texts else [])
        )
        modes = [(_t("off"), "off"), (_t("alarm only"), "alarm"), (_t("trip"), "trip")]

        def text(key: str, default: str = "") -> str:
            return str(texts[key]) if texts else default  # type: ignore[literal-required]

        fields = [
            FieldSpec(
                "building",
                _t("Where"),
                "choice",
                [(_t("whole site"), "")] + [(b, b) for b in self.buildings],
                value=row.building if row else "",
            ),
            FieldSpec(
                "total_mode", _t("Total power"), "choice", modes, value=text("total_mode", "trip")
            ),
            FieldSpec("total_limit_w", _t("Limit (W)"), value=text("total_limit_w", "4000")),
            FieldSpec("total_duration_s", _t("For (s)"), value=text("total_duration_s", "30")),
            FieldSpec(
                "increment_mode",
                _t("New power"),
                "choice",
                modes,
                value=text("increment_mode", "trip"),
            ),
            FieldSpec("pf_threshold", _t("PF at least"), value=text("pf_threshold", "0.950")),
            FieldSpec(
                "bands",
                _t("Bands (W)"),
                value=bands or "30-300 no; 300-700 no; 700-3000 yes",
                hint=_t("from-to and whether it trips (no: a white list), separated by ;"),
            ),
            FieldSpec(
                "restore_delay_s", _t("Restore after (s)"), value=text("restore_delay_s", "300")
            ),
            FieldSpec(
                "max_auto_restores_per_day",
                _t("Restores a day"),
                value=text("max_auto_restores_per_day", "3"),
            ),
        ]
        db = self.db

        def submit(v: Mapping[str, str]) -> Any:
            rows = []
            for part in v["bands"].split(";"):
                words = part.split()
                if not words:
                    continue
                low, _, high = words[0].partition("-")
                controlled = len(words) < 2 or words[1].lower() in ("yes", "y", "true", "1", "是")
                rows.append((low, high, controlled))
            try:
                params = load_guard_from_fields(
                    v["total_mode"],
                    v["total_limit_w"],
                    v["total_duration_s"],
                    v["increment_mode"],
                    v["pf_threshold"],
                    rows,
                    v["restore_delay_s"],
                    v["max_auto_restores_per_day"],
                )
            except FileProblemsError as exc:
                key, message = exc.pairs()[0]
                raise SetupRefused(key.split("[")[0], message) from None
            return in_transaction(
                db, save_load_guard, self.operator(), params, v["building"] or None
            )

        self.form(
            _t("Load-guard settings"),
            "",
            fields,
            submit,
            lambda outcome: _t("Load-guard settings: {outcome}.").format(outcome=outcome),
            confirm=_t("Save"),
        )

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, _t("Import load-guard settings"), "", _t("Load-guard files (*.toml)")
        )
        if not path:
            return
        db, who = self.db, self.operator()
        row: _Guard | None = self.list.current_row()
        building = row.building if row else ""

        def work() -> Any:
            text = read_text_file(path)
            try:
                return in_transaction(db, import_load_guard, who, text, path, building or None)
            except FileProblemsError as exc:
                raise problems_refused(exc) from None

        self.run(
            work, lambda outcome: _t("Load-guard settings: {outcome}.").format(outcome=outcome)
        )

    def export(self) -> None:
        row: _Guard | None = self.list.current_row()
        if row is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, _t("Export the settings"), "load-guard.toml", _t("Load-guard files (*.toml)")
        )
        if path:
            db = self.db
            self.run(
                lambda: write_text_file(path, export_load_guard_of(db, row.building or None) or ""),
                lambda p: _t("Wrote {path}.").format(path=p),
            )
