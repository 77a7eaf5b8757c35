"""The Setup screen's pages for the site itself and its buildings and rooms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QWidget

from app.queries.site_layout import BuildingRow, RoomRow, list_buildings, list_rooms
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import in_transaction
from app.services.site_layout import (
    RoomPlan,
    add_building,
    add_room,
    change_room,
    generate_rooms,
    preview_rooms,
    rename_building,
    retire_building,
    retire_room,
)
from app.services.site_setup import (
    SiteDetails,
    change_site,
    currencies,
    init_site,
    site_details,
    time_zones,
)
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.row_table_model import Column
from app.views.form_dialog import label
from app.views.setup_form_dialog import FieldSpec, SetupFormDialog, attempt
from app.views.setup_page import Operator, SetupPage
from app.vocabulary import DEFAULT_CURRENCY, DEFAULT_TIMEZONE


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupLayout", text)


@dataclass(frozen=True)
class _Detail:
    id: int
    detail: str
    value: str


class SitePage(SetupPage):
    """The site's name, address, time zone, currency and receipt header (one row)."""

    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Detail"), lambda r: r.detail),
            Column(_t("Value"), lambda r: r.value),
        ]
        super().__init__(
            db,
            operator,
            _t("Site"),
            _t(
                "The site's name and address print on every receipt; its time zone says when "
                "friendly hours, tariff bands and days begin; its currency is fixed once money "
                "has moved."
            ),
            columns,
            _t("Search the details"),
            parent,
        )
        self.details: SiteDetails | None = None  # read just before the form opens
        self.edit_button = self.action(
            _t("Set up the site…"), self.fresh(self.edit), Action.EDIT_SITE, name="editSite"
        )
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        d = site_details(self.db)
        if d is None:
            return []
        return [
            _Detail(1, _t("Name"), d.name),
            _Detail(2, _t("Address"), d.address),
            _Detail(3, _t("Time zone"), d.timezone),
            _Detail(4, _t("Currency"), d.currency),
            _Detail(5, _t("Receipt header"), " / ".join(d.receipt_header.splitlines())),
        ]

    def search_text(self, row: Any) -> str:
        return f"{row.detail} {row.value}"

    def choices(self) -> SiteDetails | None:
        return site_details(self.db)

    def take_choices(self, choices: SiteDetails | None) -> None:
        self.details = choices

    def refresh_actions(self) -> None:
        super().refresh_actions()
        there = self.list.model.total_count > 0  # the table shows the site once there is one
        self.edit_button.setText(_t("Edit…") if there else _t("Set up the site…"))

    def edit(self) -> None:
        d = self.details
        fields = [
            FieldSpec("name", _t("Site name"), value=d.name if d else ""),
            FieldSpec("address", _t("Address"), value=d.address if d else ""),
            FieldSpec(
                "timezone",
                _t("Time zone"),
                "editable",
                [(z, z) for z in time_zones()],
                value=d.timezone if d else DEFAULT_TIMEZONE,
            ),
            FieldSpec(
                "currency",
                _t("Currency"),
                "choice",
                [(c, c) for c in currencies()],
                value=d.currency if d else DEFAULT_CURRENCY,
                hint=_t("Fixed once money has moved or a tariff is stored."),
            ),
            FieldSpec(
                "receipt_header",
                _t("Receipt header"),
                "lines",
                value=d.receipt_header if d else "",
                hint=_t("Up to 4 lines printed at the top of every receipt."),
            ),
        ]
        db = self.db

        def submit(v: Mapping[str, str], who: SignedIn) -> SiteDetails:
            if d is None:
                details = SiteDetails(
                    v["name"], v["timezone"], v["currency"], v["address"], v["receipt_header"]
                )
                return in_transaction(db, init_site, who, details)
            return in_transaction(db, change_site, who, **dict(v))

        self.form(
            _t("The site"),
            "",
            fields,
            submit,
            lambda d: _t("Site {name} saved.").format(name=d.name),
            confirm=_t("Save"),
        )


def _room_row_text(r: RoomRow) -> str:
    return f"{r.label} {r.building} {r.account} {r.holder} {r.note}"


class RoomsPage(SetupPage):
    """Buildings and their rooms: add, rename, retire; whole floors generated at once."""

    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Room"), lambda r: r.label),
            Column(_t("Building"), lambda r: r.building),
            Column(_t("Floor"), lambda r: str(r.floor), sort_key=lambda r: r.floor),
            Column(_t("Meters"), lambda r: str(r.meters), sort_key=lambda r: r.meters),
            Column(_t("Account"), lambda r: r.account or _t("vacant")),
            Column(_t("Holder"), lambda r: r.holder),
            Column(_t("Note"), lambda r: r.note),
        ]
        super().__init__(
            db,
            operator,
            _t("Buildings and rooms"),
            _t(
                "A room's label is its building's code, a dash and its number (7-101): what "
                "the cashier types. A room or building with history is retired, never deleted."
            ),
            columns,
            _t("Search rooms: 7-1, Block 7, a holder…"),
            parent,
        )
        self.buildings: list[BuildingRow] = []
        self.action(_t("Add building…"), self.add_building, Action.EDIT_LAYOUT, name="addBuilding")
        fresh = self.fresh
        self.action(_t("Rename building…"), fresh(self.rename_building), Action.EDIT_LAYOUT)
        self.action(_t("Retire building…"), fresh(self.retire_building), Action.EDIT_LAYOUT)
        self.action(
            _t("Generate rooms…"), fresh(self.generate), Action.EDIT_LAYOUT, name="generateRooms"
        )
        self.action(_t("Add room…"), fresh(self.add_room), Action.EDIT_LAYOUT)
        self.action(_t("Change room…"), self.change_room, Action.EDIT_LAYOUT, on_row=True)
        self.action(_t("Retire room"), self.retire_room, Action.EDIT_LAYOUT, on_row=True)
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        return list_rooms(self.db)

    def search_text(self, row: Any) -> str:
        return _room_row_text(row)

    def choices(self) -> list[BuildingRow]:
        return list_buildings(self.db)

    def take_choices(self, choices: list[BuildingRow]) -> None:
        self.buildings = choices

    def _building_choices(self) -> list[tuple[str, str]]:
        return [(f"{b.name} ({b.code})", b.name) for b in self.buildings]

    def _building_field(self) -> FieldSpec:
        return FieldSpec(
            "building",
            _t("Building"),
            "choice",
            self._building_choices(),
            value=self._current_building(),
        )

    def _current_building(self) -> str:
        row = self.list.current_row()
        if row is not None:
            return str(row.building)
        return self.buildings[0].name if self.buildings else ""

    def add_building(self) -> None:
        db = self.db
        self.form(
            _t("Add a building"),
            _t("The code starts its room labels; leave it empty to take one from the name."),
            [
                FieldSpec("name", _t("Name"), placeholder="Block 7"),
                FieldSpec("code", _t("Code"), placeholder="7"),
            ],
            lambda v, who: in_transaction(db, add_building, who, v["name"], v["code"]),
            lambda b: _t("Building {name} added: its rooms read {code}-101…").format(
                name=b.name, code=b.code
            ),
            confirm=_t("Add"),
        )

    def rename_building(self) -> None:
        if not self.buildings:
            self.say(_t("There is no building yet: add one first."), bad=True)
            return
        db = self.db
        self.form(
            _t("Rename a building"),
            _t("A new code relabels every room of the building; receipts keep their words."),
            [
                self._building_field(),
                FieldSpec("name", _t("New name")),
                FieldSpec("code", _t("New code")),
            ],
            lambda v, who: in_transaction(
                db,
                rename_building,
                who,
                v["building"],
                name=v["name"] or None,
                code=v["code"] or None,
            ),
            lambda b: _t("Building {name} (code {code}) saved.").format(name=b.name, code=b.code),
            confirm=_t("Save"),
        )

    def retire_building(self) -> None:
        if not self.buildings:
            self.say(_t("There is no building yet."), bad=True)
            return
        db = self.db
        self.form(
            _t("Retire a building"),
            _t(
                "Its rooms are retired with it and keep their history; a building that never "
                "had an account or a meter is removed."
            ),
            [self._building_field()],
            lambda v, who: (v["building"], in_transaction(db, retire_building, who, v["building"])),
            lambda r: _t("Building {name}: {outcome}.").format(name=r[0], outcome=r[1]),
            confirm=_t("Retire"),
        )

    def add_room(self) -> None:
        if not self.buildings:
            self.say(_t("Add a building first."), bad=True)
            return
        db = self.db
        self.form(
            _t("Add a room"),
            "",
            [
                self._building_field(),
                FieldSpec("floor", _t("Floor"), placeholder="3"),
                FieldSpec("room", _t("Room number"), placeholder="305"),
                FieldSpec("note", _t("Note")),
            ],
            lambda v, who: in_transaction(
                db, add_room, who, v["building"], v["floor"], v["room"], v["note"]
            ),
            lambda r: _t("Room {label} added.").format(label=r.label),
            confirm=_t("Add"),
        )

    def generate(self) -> None:
        if not self.buildings:
            self.say(_t("Add a building first."), bad=True)
            return
        dialog = GenerateRoomsDialog(
            self.db, self.operator, self._building_choices(), self._current_building(), self
        )
        self.show_dialog(
            dialog,
            lambda plans: self._saved(
                _t("{n} rooms added.").format(n=sum(1 for p in plans if not p.exists))
            ),
        )

    def change_room(self) -> None:
        row: RoomRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        self.form(
            _t("Change room {label}").format(label=row.label),
            _t("A new number changes the label the cashier types."),
            [
                FieldSpec("number", _t("Number"), value=row.number, aliases=("room",)),
                FieldSpec("floor", _t("Floor"), value=str(row.floor)),
                FieldSpec("note", _t("Note"), value=row.note),
            ],
            lambda v, who: in_transaction(
                db,
                change_room,
                who,
                row.label,
                number=v["number"],
                floor=v["floor"],
                note=v["note"],
            ),
            lambda r: _t("Room {label} saved.").format(label=r.label),
            confirm=_t("Save"),
        )

    def retire_room(self) -> None:
        row: RoomRow | None = self.list.current_row()
        if row is None:
            return
        db, who = self.db, self.operator()
        self.run(
            lambda: in_transaction(db, retire_room, who, row.label),
            lambda outcome: _t("Room {label}: {outcome}.").format(label=row.label, outcome=outcome),
        )


class GenerateRoomsDialog(SetupFormDialog):
    """Floors x rooms per floor, with a preview of the labels that will be added."""

    def __init__(
        self,
        db: Database,
        operator: Operator,
        buildings: list[tuple[str, str]],
        building: str,
        parent: QWidget | None = None,
    ) -> None:
        self._db = db
        super().__init__(
            _t("Generate rooms"),
            _t("Floors 1-6 and rooms 01-20 give 101 to 620; rooms already there are kept."),
            [
                FieldSpec("building", _t("Building"), "choice", buildings, value=building),
                FieldSpec("floors", _t("Floors"), placeholder="1-6"),
                FieldSpec("rooms", _t("Rooms per floor"), placeholder="01-20"),
            ],
            lambda v, who: in_transaction(
                db, generate_rooms, who, v["building"], v["floors"], v["rooms"]
            ),
            operator,
            confirm=_t("Add the rooms"),
            parent=parent,
        )
        self.preview = label(_t("Type the floors and rooms to see them."), "previewText")
        self.preview.setObjectName("roomPreview")
        self.add_middle(self.preview)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._plan)
        for key in ("floors", "rooms"):
            self.inputs[key].textChanged.connect(lambda _t: self._timer.start())  # type: ignore[attr-defined]

    def _plan(self) -> None:
        values = self.values()
        if not values["floors"].strip() or not values["rooms"].strip():
            return
        db = self._db

        def plan() -> list[RoomPlan]:
            return preview_rooms(db, values["building"], values["floors"], values["rooms"])

        run_in_background(lambda: attempt(plan), self._show_plan, owner=self)

    def _show_plan(self, outcome: Any) -> None:
        if outcome.failed:
            self.preview.setText(outcome.message)
        else:
            plans: list[RoomPlan] = outcome.value
            new = [p.label for p in plans if not p.exists]
            shown = new if len(new) <= 16 else [*new[:10], "…", *new[-4:]]
            there = len(plans) - len(new)
            text = _t("{n} rooms will be added: {labels}").format(
                n=len(new), labels=", ".join(shown)
            )
            if there:
                text += _t(" ({m} already there)").format(m=there)
            self.preview.setText(text if new else _t("Every one of these rooms is there already."))
        self.fit()
