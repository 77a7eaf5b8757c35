"""The Setup screen's pages for the field: buses (with a line test) and meters (with scan and
assign). A running console takes changes up within seconds (it watches the field revision)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QWidget

from app.hardware.bus_worker import BusWorker
from app.hardware.ports import BAUD_RATES, list_serial_ports
from app.hardware.profiles import available_profiles
from app.queries.meters import MeterRow, list_meters
from app.queries.site_layout import BusRow, list_buses, list_rooms
from app.services.bus_setup import BusForm, add_bus, change_bus, retire_bus
from app.services.field_setup import BusJob
from app.services.line_check import start_line_check
from app.services.meter_setup import MeterForm, MeterSaved, add_meter, change_meter, retire_meter
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.setup_checks import in_transaction
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import meter_status_label, utility_label
from app.ui.gui_calls import GuiCalls
from app.ui.row_table_model import Column
from app.views.scan_assign_dialog import ScanAssignDialog
from app.views.setup_form_dialog import FieldSpec, attempt
from app.views.setup_page import Operator, SetupPage
from app.vocabulary import MeterStatus

Workers = Callable[[], Mapping[str, BusWorker]]


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupField", text)


def _line_fields(row: BusRow | None) -> list[FieldSpec]:
    return [
        FieldSpec(
            "baud",
            _t("Baud"),
            "editable",
            [(_t("the profile's"), "")] + [(str(b), str(b)) for b in BAUD_RATES],
            value=str(row.baud) if row else "",
        ),
        FieldSpec(
            "parity",
            _t("Parity"),
            "choice",
            [(_t("the profile's"), ""), ("N", "N"), ("E", "E"), ("O", "O")],
            value=row.parity if row else "",
        ),
        FieldSpec(
            "stopbits",
            _t("Stop bits"),
            "choice",
            [(_t("the profile's"), ""), ("1", "1"), ("2", "2")],
            value=str(row.stopbits) if row else "",
        ),
        FieldSpec(
            "timeout_ms",
            _t("Reply timeout (ms)"),
            value=str(row.timeout_ms) if row else "",
            placeholder=_t("the profile's"),
        ),
    ]


class BusesPage(SetupPage):
    def __init__(
        self, db: Database, operator: Operator, workers: Workers, parent: QWidget | None = None
    ) -> None:
        columns = [
            Column(_t("Bus"), lambda r: r.name),
            Column(_t("Port"), lambda r: r.port),
            Column(_t("Line"), lambda r: r.line),
            Column(_t("Profile"), lambda r: r.profile),
            Column(_t("Meters"), lambda r: str(r.meters), sort_key=lambda r: r.meters),
            Column(_t("Polled"), lambda r: _t("yes") if r.enabled else _t("no")),
        ]
        super().__init__(
            db,
            operator,
            _t("Buses"),
            _t(
                "Each RS485 line: a USB-RS485 adapter's port (COM3, /dev/ttyUSB0) or a gateway "
                "(socket://host:port, modbus-tcp://host:502), its line settings and the profile "
                "of its meters. One port has one bus."
            ),
            columns,
            _t("Search buses"),
            parent,
        )
        self.workers = workers
        self.scan_dialog: ScanAssignDialog | None = None
        self.action(_t("Add bus…"), self.add, Action.EDIT_FIELD, name="addBus")
        self.action(_t("Change…"), self.change, Action.EDIT_FIELD, on_row=True)
        self.action(_t("Retire"), self.retire, Action.EDIT_FIELD, on_row=True)
        self.action(_t("Test line"), self.test, Action.EDIT_FIELD, on_row=True, name="testLine")
        self.action(
            _t("Scan and assign…"), self.scan, Action.EDIT_FIELD, on_row=True, name="scanBus"
        )
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        return list_buses(self.db)

    def search_text(self, row: Any) -> str:
        return f"{row.name} {row.port} {row.profile}"

    def _ports(self) -> list[tuple[str, str]]:
        found = [
            (f"{p.device} — {p.description}".strip(" —"), p.device) for p in list_serial_ports()
        ]
        return found or [(_t("(no serial port found: type a port or a gateway)"), "")]

    def add(self) -> None:
        self.then(self._ports, self._add_with)

    def _add_with(self, ports: list[tuple[str, str]]) -> None:
        db = self.db
        fields = [
            FieldSpec("name", _t("Name"), placeholder="Block 7 meters"),
            FieldSpec(
                "port",
                _t("Port"),
                "editable",
                ports,
                hint=_t("Pick this PC's port, or type socket://, rfc2217:// or modbus-tcp://."),
            ),
            FieldSpec(
                "profile", _t("Meter profile"), "choice", [(p, p) for p in available_profiles()]
            ),
            *_line_fields(None),
            FieldSpec("enabled", _t("Poll it"), "check", value="yes"),
        ]

        def submit(v: Mapping[str, str], who: SignedIn) -> Any:
            form = BusForm(
                v["name"],
                v["port"],
                v["profile"],
                v["baud"],
                v["parity"],
                v["stopbits"],
                v["timeout_ms"],
                enabled=v["enabled"] == "yes",
            )
            return in_transaction(db, add_bus, who, form)

        self.form(
            _t("Add a bus"),
            "",
            fields,
            submit,
            lambda b: _t("Bus {name} added on {port}. Test its line, then scan it.").format(
                name=b.name, port=b.url
            ),
            confirm=_t("Add"),
        )

    def change(self) -> None:
        row: BusRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        fields = [
            FieldSpec("name", _t("Name"), value=row.name),
            FieldSpec("port", _t("Port"), value=row.port),
            FieldSpec(
                "profile",
                _t("Meter profile"),
                "choice",
                [(p, p) for p in available_profiles()],
                value=row.profile,
            ),
            *_line_fields(row),
            FieldSpec("enabled", _t("Poll it"), "check", value="yes" if row.enabled else "no"),
        ]

        def submit(v: Mapping[str, str], who: SignedIn) -> Any:
            changes: dict[str, object] = {k: v[k] for k in v if k != "enabled"}
            changes["enabled"] = v["enabled"] == "yes"
            return in_transaction(db, change_bus, who, row.name, **changes)

        self.form(
            _t("Change bus {name}").format(name=row.name),
            "",
            fields,
            submit,
            lambda b: _t("Bus {name} saved.").format(name=b.name),
            confirm=_t("Save"),
        )

    def retire(self) -> None:
        row: BusRow | None = self.list.current_row()
        if row is None:
            return
        db, who = self.db, self.operator()
        self.run(
            lambda: in_transaction(db, retire_bus, who, row.name),
            lambda outcome: _t("Bus {name}: {outcome}.").format(name=row.name, outcome=outcome),
        )

    def test(self) -> None:
        """The line test runs on the bus's worker thread; the background pool only opens the
        port, so other screens' loads go on meanwhile. The answer comes through ``GuiCalls``."""
        row: BusRow | None = self.list.current_row()
        if row is None:
            return
        self.say(_t("Testing the line of {name}…").format(name=row.name))
        db, workers = self.db, self.workers()
        calls = GuiCalls()  # no Qt parent: the answer comes from the bus worker's thread
        self.destroyed.connect(calls.close)

        def said(result: Any) -> str:
            setup, check = result
            if check.asked == 0:
                return _t("{port} opened: no meters on this bus yet; scan it.").format(
                    port=setup.url
                )
            text = _t(
                "{port}: {n} of {asked} meters answered; {t} timeouts, {crc} CRC errors."
            ).format(
                port=setup.url,
                n=len(check.answered),
                asked=check.asked,
                t=check.timeouts,
                crc=check.crc_errors,
            )
            return text + ("" if not check.problems else " " + "; ".join(check.problems[:5]))

        def started(outcome: Any) -> None:
            if outcome.failed:
                self.say(outcome.message, bad=True)
                return
            job: BusJob[Any] = outcome.value

            def checked(check: Any) -> None:
                job.release()
                self._saved(said((job.setup, check)))

            def failed(message: str) -> None:
                job.release()
                self.say(message, bad=True)

            calls.when_done(job.future, checked, failed)

        run_in_background(
            lambda: attempt(lambda: start_line_check(db, row.name, workers)),
            started,
            lambda text: self.say(text, bad=True),
            owner=self,
        )

    def scan(self) -> None:
        row: BusRow | None = self.list.current_row()
        if row is None:
            return
        dialog = ScanAssignDialog(self.db, self.operator, row.name, self.workers(), self)
        self.scan_dialog = dialog
        dialog.saved.connect(
            lambda saved: self._saved(
                _t("{n} meters added to {bus}.").format(n=len(saved), bus=row.name)
            )
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()


class MetersPage(SetupPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        columns = [
            Column(_t("Serial"), lambda r: r.serial),
            Column(_t("Utility"), lambda r: utility_label(r.utility)),
            Column(_t("Room"), lambda r: r.room_label),
            Column(_t("Bus"), lambda r: r.bus_name),
            Column(_t("Address"), lambda r: r.address),
            Column(_t("Profile"), lambda r: r.profile),
            Column(_t("Account"), lambda r: r.account_number),
            Column(_t("Status"), lambda r: meter_status_label(r.status, r.last_seen_at)),
        ]
        super().__init__(
            db,
            operator,
            _t("Meters"),
            _t(
                "Each meter hangs on a bus at an address and serves a room; the room's account "
                "pays for it. Scan a bus to find its meters, then give each a room."
            ),
            columns,
            _t("Search meters: serial, room, bus…"),
            parent,
        )
        self.buses: list[str] = []
        self.rooms: list[str] = []
        self.action(_t("Add meter…"), self.fresh(self.add), Action.EDIT_FIELD, name="addMeter")
        self.action(_t("Change…"), self.fresh(self.change), Action.EDIT_FIELD, on_row=True)
        self.action(_t("Retire…"), self.retire, Action.EDIT_FIELD, on_row=True)
        self.end_actions()

    def choices(self) -> tuple[list[str], list[str]]:
        return [b.name for b in list_buses(self.db)], [r.label for r in list_rooms(self.db)]

    def take_choices(self, choices: tuple[list[str], list[str]]) -> None:
        self.buses, self.rooms = choices

    def rows(self) -> Sequence[Any]:
        return [m for m in list_meters(self.db) if m.status is not MeterStatus.REMOVED]

    def search_text(self, row: Any) -> str:
        return f"{row.serial} {row.room_label} {row.bus_name} {row.address} {row.account_number}"

    def _warned(self, saved: MeterSaved, verb: str) -> str:
        where = _t(" in room {room}").format(room=saved.room) if saved.room else ""
        return " ".join(
            [
                _t("Meter {serial} {verb}{where}.").format(
                    serial=saved.serial, verb=verb, where=where
                ),
                *saved.warnings,
            ]
        )

    def add(self) -> None:
        if not self.buses:
            self.say(_t("Add a bus first: a meter hangs on one."), bad=True)
            return
        db = self.db
        fields = [
            FieldSpec("serial", _t("Serial"), hint=_t("The number on the nameplate.")),
            FieldSpec("bus", _t("Bus"), "choice", [(b, b) for b in self.buses]),
            FieldSpec("address", _t("Address")),
            FieldSpec("room", _t("Room"), "editable", [("", "")] + [(r, r) for r in self.rooms]),
            FieldSpec(
                "profile",
                _t("Profile"),
                "choice",
                [(_t("the bus's"), "")] + [(p, p) for p in available_profiles()],
            ),
            FieldSpec("multiplier", _t("CT multiplier"), value="1"),
            FieldSpec(
                "initial_reading",
                _t("Reading now"),
                hint=_t("The register on its display (kWh, m³): billing starts from it."),
            ),
        ]

        def submit(v: Mapping[str, str], who: SignedIn) -> MeterSaved:
            form = MeterForm(
                v["serial"],
                v["bus"],
                v["address"],
                room=v["room"],
                profile=v["profile"],
                multiplier=v["multiplier"],
                initial_reading=v["initial_reading"],
            )
            return in_transaction(db, add_meter, who, form)

        self.form(
            _t("Add a meter"),
            "",
            fields,
            submit,
            lambda s: self._warned(s, _t("added")),
            confirm=_t("Add"),
        )

    def change(self) -> None:
        row: MeterRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        fields = [
            FieldSpec("bus", _t("Bus"), "choice", [(b, b) for b in self.buses], value=row.bus_name),
            FieldSpec("address", _t("Address"), value=row.address),
            FieldSpec(
                "room",
                _t("Room"),
                "editable",
                [("", "")] + [(r, r) for r in self.rooms],
                value=row.room_label,
            ),
            FieldSpec(
                "profile",
                _t("Profile"),
                "choice",
                [(p, p) for p in available_profiles()],
                value=row.profile,
            ),
            FieldSpec("multiplier", _t("CT multiplier"), value=""),
        ]

        def submit(v: Mapping[str, str], who: SignedIn) -> MeterSaved:
            return in_transaction(
                db,
                change_meter,
                who,
                row.serial,
                bus=v["bus"],
                address=v["address"],
                room=v["room"],
                profile=v["profile"],
                multiplier=v["multiplier"] or None,
            )

        self.form(
            _t("Change meter {serial}").format(serial=row.serial),
            _t("Leave the multiplier empty to keep it."),
            fields,
            submit,
            lambda s: self._warned(s, _t("saved")),
            confirm=_t("Save"),
        )

    def retire(self) -> None:
        row: MeterRow | None = self.list.current_row()
        if row is None:
            return
        db = self.db
        self.form(
            _t("Retire meter {serial}").format(serial=row.serial),
            _t("It is kept with its history; its final reading, when given, is billed."),
            [FieldSpec("final_reading", _t("Final reading"))],
            lambda v, who: in_transaction(db, retire_meter, who, row.serial, v["final_reading"]),
            lambda s: _t("Meter {serial} retired.").format(serial=s.serial),
            confirm=_t("Retire"),
        )
