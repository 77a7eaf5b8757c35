"""The Setup screen's load-guard page: the settings of the site and of each building (a
building's win), edited in a form or imported from the TOML file of DOMAIN.md section 1."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.billing.file_problems import FileProblemsError
from app.billing.load_guard import LoadGuardParams
from app.billing.load_guard_form import (
    bands_from_text,
    bands_to_text,
    load_guard_from_fields,
    load_guard_to_fields,
)
from app.queries.site_layout import list_buildings
from app.services.load_guard_setup import (
    export_load_guard_of,
    import_load_guard,
    list_load_guards,
    save_load_guard,
)
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import in_transaction
from app.store.database import Database
from app.ui.row_table_model import Column
from app.views.setup_files import BuildingsPage, export_toml, first_problem_refused, import_toml
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import Operator


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupGuard", text)


@dataclass(frozen=True)
class _Guard:
    id: int  # 0 for the site's settings, else the building's id: kept chosen across reloads
    building: str
    params: LoadGuardParams


def _total_text(row: _Guard) -> str:
    p = row.params
    return f"{p.total_mode.value}: {p.total_limit_w:g} W, {p.total_duration_s:g} s"


def _increment_text(row: _Guard) -> str:
    p = row.params
    return f"{p.increment_mode.value}: PF ≥ {p.pf_threshold:.3f}, {len(p.bands)} bands"


class LoadGuardPage(BuildingsPage):
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
        self.action(_t("Edit…"), self.fresh(self.edit), Action.CHANGE_POLICY, name="editLoadGuard")
        self.action(_t("Import file…"), self.import_file, Action.CHANGE_POLICY)
        self.action(_t("Export…"), self.export, None, on_row=True)
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        guards = list_load_guards(self.db)
        ids = {b.name: b.id for b in list_buildings(self.db, retired=True)}
        return [
            _Guard(ids.get(g.building, -n) if g.building else 0, g.building, g.params)
            for n, g in enumerate(guards, start=1)
        ]

    def search_text(self, row: Any) -> str:
        return str(row.building)

    def edit(self) -> None:
        row: _Guard | None = self.list.current_row()
        texts = load_guard_to_fields(row.params) if row else None
        bands = bands_to_text(texts["bands"]) if texts else ""
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

        def submit(v: Mapping[str, str], who: SignedIn) -> Any:
            try:
                params = load_guard_from_fields(
                    v["total_mode"],
                    v["total_limit_w"],
                    v["total_duration_s"],
                    v["increment_mode"],
                    v["pf_threshold"],
                    bands_from_text(v["bands"]),
                    v["restore_delay_s"],
                    v["max_auto_restores_per_day"],
                )
            except FileProblemsError as exc:
                raise first_problem_refused(exc) from None
            return in_transaction(db, save_load_guard, who, params, v["building"] or None)

        self.form(
            _t("Load-guard settings"),
            "",
            fields,
            submit,
            lambda outcome: _t("Load-guard settings: {outcome}.").format(outcome=outcome),
            confirm=_t("Save"),
        )

    def import_file(self, path: str | None = None) -> None:
        row: _Guard | None = self.list.current_row()
        building = row.building if row else ""
        import_toml(
            self,
            _t("Import load-guard settings"),
            partial(import_load_guard, building=building or None),
            lambda outcome: _t("Load-guard settings: {outcome}.").format(outcome=outcome),
            path,
        )

    def export(self) -> None:
        row: _Guard | None = self.list.current_row()
        if row is not None:
            db = self.db
            export_toml(
                self,
                _t("Export the settings"),
                "load-guard.toml",
                lambda: export_load_guard_of(db, row.building or None) or "",
            )
