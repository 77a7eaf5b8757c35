"""Plan a site workbook against the site: what each row adds or changes, and every problem,
named by sheet, row and column. Nothing is written here (``import_apply`` writes a plan).

Rows are checked with the same rules as the set-up screens and commands (``site_layout``,
``bus_setup``, ``meter_setup``, the account rules), against an index of the site that grows with
the plan, so a meter may name a room the same workbook adds. A row equal to what is stored is
"unchanged": importing the same workbook twice changes nothing. What a row cannot change is a
problem, never ignored silently, except the two values that only a new thing takes: a meter's
initial reading and an account's opening balance (history is not rewritten by a spreadsheet).

An opening balance is money the tenant already had in the old system, carried over: it is not a
recharge, so neither the recharge cap nor the policy's hoard limit applies to it (opening an
account at the counter pays its opening balance in as a recharge, and there both hold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.billing.money import Money, MoneyError
from app.documents.site_workbook_format import Problem, SheetRow, Workbook, parse_bool, split_list
from app.hardware.ports import same_port
from app.hardware.profiles import Profile
from app.services.bus_setup import (
    BusForm,
    bus_name_text,
    line_settings,
    name_taken,
    port_text,
    profile_named,
)
from app.services.import_index import (
    AccountRef,
    BuildingRef,
    BusRef,
    MeterRef,
    RoomRef,
    SiteIndex,
    key,
)
from app.services.meter_checks import (
    check_address_free,
    check_meter_move,
    normalize_address,
    serial_text,
)
from app.services.meter_setup import MULTIPLIER_MAX, initial_units, rated_current, supply_warning
from app.services.setup_checks import SetupRefused, clean_text, whole_number
from app.services.site_layout import (
    FLOOR_HIGH,
    FLOOR_LOW,
    check_code_text,
    check_room_number,
    default_code,
    label_of,
)
from app.store.models import Account, Building, column_length
from app.vocabulary import Utility


@dataclass(frozen=True)
class Change:
    """One line of the preview: a row that adds or changes something."""

    sheet: str
    row: int
    action: str  # add | change
    what: str  # "room 7-101", "bus Block 7 meters", "meter H7-001", "account of 7-101"
    detail: str  # what it gets, or "floor 1 -> 2; note ..."


@dataclass
class NewMeter:
    ref: MeterRef
    initial_units: int  # its first good reading, Wh or litres
    rated_current_a: int | None  # its profile's, as a meter added on its own gets


@dataclass
class NewAccount:
    ref: AccountRef
    opening_minor: int


@dataclass
class ImportPlan:
    changes: list[Change] = field(default_factory=list)
    unchanged: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What apply writes (refs carry the values; id None = new):
    new_buildings: list[BuildingRef] = field(default_factory=list)
    new_rooms: list[RoomRef] = field(default_factory=list)
    changed_rooms: list[RoomRef] = field(default_factory=list)
    new_buses: list[BusRef] = field(default_factory=list)
    changed_buses: list[BusRef] = field(default_factory=list)
    new_meters: list[NewMeter] = field(default_factory=list)
    changed_meters: list[MeterRef] = field(default_factory=list)
    new_accounts: list[NewAccount] = field(default_factory=list)
    changed_accounts: list[AccountRef] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, dict[str, int]]:
        """Per sheet: rows that add, change, or leave things as they are."""
        out: dict[str, dict[str, int]] = {}
        for sheet in ("rooms", "buses", "meters", "tenants"):
            out[sheet] = {
                "add": sum(1 for c in self.changes if c.sheet == sheet and c.action == "add"),
                "change": sum(1 for c in self.changes if c.sheet == sheet and c.action == "change"),
                "unchanged": self.unchanged[sheet],
            }
        return out


# The column of a sheet a refusal's field is about, where the two names differ.
_COLUMN = {
    "rooms": {"code": "building"},  # a building's code is made from its name
    "buses": {"name": "bus"},
}


class Planner:
    def __init__(self, index: SiteIndex, currency: str) -> None:
        self.index = index
        self.currency = currency
        self.plan = ImportPlan()
        self._profiles: dict[str, Profile] = {}
        self._next_number = index.next_number

    # -- helpers --------------------------------------------------------------------------

    def problem(self, sheet: str, row: int, column: str | None, message: str) -> None:
        self.plan.problems.append(Problem(sheet, row, column, message))

    def _rows(self, sheet: str, rows: Sequence[SheetRow], one: Callable[[SheetRow], None]) -> None:
        for row in rows:
            try:
                one(row)
            except SetupRefused as exc:
                column = _COLUMN.get(sheet, {}).get(exc.field, exc.field)
                self.problem(sheet, row.number, column, str(exc))

    def profile(self, name: str, field_name: str = "profile") -> Profile:
        found = self._profiles.get(name)
        if found is None:
            found = self._profiles[name] = profile_named(name, field_name)
        return found

    def change(self, sheet: str, row: int, action: str, what: str, detail: str) -> None:
        self.plan.changes.append(Change(sheet, row, action, what, detail))

    def _warn(
        self, sheet: str, row: int, profile: Profile, serial: str, account: AccountRef | None
    ) -> None:
        """The warning a meter set up on its own gives (no relay or valve to cut an account's
        supply), named by sheet and row."""
        for warning in supply_warning(profile, serial, account.number if account else None):
            self.plan.warnings.append(f"{sheet} row {row}: {warning}")

    # -- rooms ----------------------------------------------------------------------------

    def rooms(self, rows: Sequence[SheetRow]) -> None:
        self._rows("rooms", rows, self._room)

    def _building(self, text: str) -> BuildingRef:
        name = clean_text(text, "building", "building", column_length(Building.name))
        found = self.index.building(name)
        if found is not None:
            if found.retired:
                raise SetupRefused("building", f"Building {found.name} is retired.")
            return found
        taken = [b.code for b in self.index.buildings.values()]
        code = default_code(name, taken)
        check_code_text(code)
        building = BuildingRef(None, name, code)
        self.index.add_building(building)
        self.plan.new_buildings.append(building)
        return building

    def _room(self, row: SheetRow) -> None:
        v = row.values
        building = self._building(v["building"])
        floor = whole_number(v["floor"], "floor", "floor", FLOOR_LOW, FLOOR_HIGH)
        number = check_room_number(v["room"])
        note = clean_text(v.get("note", ""), "note", "note", 300, required=False)
        label = label_of(building.code, number)
        room = self.index.room(label)
        if room is not None and room.building is not building:
            raise SetupRefused(
                "room", f"Room label {label} belongs to building {room.building.name}."
            )
        if room is not None and room.row is not None:
            raise SetupRefused(
                "room", f"Room {label} is already in this sheet at row {room.row}; keep one row."
            )
        if room is None:
            new = RoomRef(None, building, floor, number, label, note, row=row.number)
            self.index.add_room(new)
            self.plan.new_rooms.append(new)
            self.change("rooms", row.number, "add", f"room {label}", f"floor {floor}")
            return
        room.row = row.number
        if room.retired:
            raise SetupRefused("room", f"Room {label} is retired; it cannot be used again.")
        said = []
        if room.floor != floor:
            said.append(f"floor {room.floor} -> {floor}")
        if room.note != note:
            said.append(f"note {room.note!r} -> {note!r}")
        if not said:
            self.plan.unchanged["rooms"] += 1
            return
        room.floor, room.note = floor, note
        if room.id is not None:
            self.plan.changed_rooms.append(room)
        self.change("rooms", row.number, "change", f"room {label}", "; ".join(said))

    # -- buses ----------------------------------------------------------------------------

    def buses(self, rows: Sequence[SheetRow]) -> None:
        self._seen_buses: dict[str, int] = {}
        self._rows("buses", rows, self._bus)

    def _bus(self, row: SheetRow) -> None:
        v = row.values
        name = bus_name_text(v["bus"])
        if key(name) in self._seen_buses:
            raise SetupRefused(
                "name", f"Bus {name} is already in this sheet at row {self._seen_buses[key(name)]}."
            )
        self._seen_buses[key(name)] = row.number
        retired = self.index.retired_buses.get(key(name))
        if retired is not None:
            raise name_taken(retired)
        port = port_text(v["port"])
        profile = self.profile(v["profile"])
        try:
            enabled = parse_bool(v.get("enabled", ""))
        except ValueError as exc:
            raise SetupRefused("enabled", str(exc)) from None
        enabled = True if enabled is None else enabled
        form = BusForm(name, port, profile.name, v["baud"], v["parity"], v["stopbits"])
        baud, parity, stop, timeout, retries = line_settings(form, profile)
        if enabled:
            for other in self.index.buses.values():
                if key(other.name) != key(name) and other.enabled and same_port(other.port, port):
                    raise SetupRefused(
                        "port", f"Bus {other.name} already uses {other.port}: one port, one owner."
                    )
        bus = self.index.bus(name)
        if bus is None:
            new = BusRef(
                None,
                name,
                port,
                baud,
                parity,
                stop,
                profile.name,
                enabled,
                timeout,
                retries,
                profile.line.bytesize,
            )
            self.index.buses[key(name)] = new
            self.plan.new_buses.append(new)
            self.change("buses", row.number, "add", f"bus {name}", f"{port} {baud} 8{parity}{stop}")
            return
        said = []
        for label, old, value in (
            ("port", bus.port, port),
            ("baud", bus.baud, baud),
            ("parity", bus.parity, parity),
            ("stop bits", bus.stopbits, stop),
            ("profile", bus.profile, profile.name),
            ("enabled", bus.enabled, enabled),
        ):
            if old != value:
                said.append(f"{label} {old} -> {value}")
        if not said:
            self.plan.unchanged["buses"] += 1
            return
        bus.port, bus.baud, bus.parity, bus.stopbits = port, baud, parity, stop
        bus.profile, bus.enabled = profile.name, enabled
        if bus.id is not None:
            self.plan.changed_buses.append(bus)
        self.change("buses", row.number, "change", f"bus {bus.name}", "; ".join(said))

    # -- meters ---------------------------------------------------------------------------

    def meters(self, rows: Sequence[SheetRow]) -> None:
        self._seen_meters: dict[str, int] = {}
        self._rows("meters", rows, self._meter)

    def _room_of(self, text: str, field_name: str = "room") -> RoomRef | None:
        if not text.strip():
            return None
        room = self.index.room(text)
        if room is None:
            hint = [r.label for r in self.index.rooms.values() if key(r.number) == key(text)][:3]
            more = f" Did you mean {', '.join(hint)}?" if hint else " Add it to the rooms sheet."
            raise SetupRefused(field_name, f"There is no room {text.strip()!r}.{more}")
        if room.retired:
            raise SetupRefused(field_name, f"Room {room.label} is retired.")
        return room

    def _meter(self, row: SheetRow) -> None:
        v = row.values
        serial = serial_text(v["serial"])
        if key(serial) in self._seen_meters:
            raise SetupRefused(
                "serial",
                f"Meter {serial} is already in this sheet at row {self._seen_meters[key(serial)]}.",
            )
        self._seen_meters[key(serial)] = row.number
        bus = self.index.bus(v["bus"])
        if bus is None:
            raise SetupRefused(
                "bus", f"There is no bus {v['bus'].strip()!r}; add it to the buses sheet first."
            )
        profile = self.profile(v["profile"] or bus.profile)
        wanted = v["utility"].strip().lower()
        if wanted not in {u.value for u in Utility}:
            raise SetupRefused(
                "utility", f"Utility {v['utility']!r}: write electricity, water or gas."
            )
        if wanted != profile.utility:
            raise SetupRefused(
                "utility",
                f"Profile {profile.name} is for {profile.utility} meters, not {wanted}.",
            )
        utility = Utility(wanted)
        address = normalize_address(profile, v["address"])
        room = self._room_of(v["room"])
        multiplier = whole_number(
            v.get("multiplier") or "1", "multiplier", "multiplier", 1, MULTIPLIER_MAX
        )
        holder = self.index.addresses.get((id(bus), address))
        meter = self.index.meters.get(key(serial))
        check_address_free(
            address, bus.name, holder if holder is not None and key(holder) != key(serial) else None
        )
        if meter is None:
            if key(serial) in self.index.serials:
                raise SetupRefused("serial", f"Serial {serial} belongs to a retired meter.")
            units = initial_units(v.get("initial_reading", ""), utility)
            new = MeterRef(None, serial, utility, bus, address, profile.name, room, multiplier)
            self.index.add_meter(new)
            self.plan.new_meters.append(NewMeter(new, units, rated_current(profile)))
            where = f"room {room.label}" if room else "no room"
            self.change(
                "meters", row.number, "add", f"meter {serial}", f"{bus.name} {address}, {where}"
            )
            account = self.index.account_of(room) if room is not None else None
            self._warn("meters", row.number, profile, serial, account)
            return
        if meter.utility is not utility:
            raise SetupRefused("utility", f"Meter {serial} measures {meter.utility.value}.")
        said = []
        if meter.bus is not bus or meter.address != address:
            said.append(f"{meter.bus.name} {meter.address} -> {bus.name} {address}")
        if meter.profile != profile.name:
            said.append(f"profile {meter.profile} -> {profile.name}")
        if meter.multiplier != multiplier:
            said.append(f"multiplier {meter.multiplier} -> {multiplier}")
        if meter.room is not room:
            for side in (meter.room, room):
                account = self.index.account_of(side) if side else None
                check_meter_move(side.label if side else "", account.number if account else None)
            said.append(
                f"room {meter.room.label if meter.room else '-'} -> {room.label if room else '-'}"
            )
        if not said:
            self.plan.unchanged["meters"] += 1
            return
        self.index.addresses.pop((id(meter.bus), meter.address), None)
        meter.bus, meter.address, meter.profile = bus, address, profile.name
        meter.multiplier = multiplier
        if meter.room is not room:
            self.index.move_meter(meter, room)
        self.index.addresses[(id(bus), address)] = meter.serial
        if meter.id is not None:
            self.plan.changed_meters.append(meter)
        self.change("meters", row.number, "change", f"meter {serial}", "; ".join(said))

    # -- tenants --------------------------------------------------------------------------

    def tenants(self, rows: Sequence[SheetRow]) -> None:
        self._seen_rooms: dict[str, int] = {}
        self._rows("tenants", rows, self._tenant)

    def _plans(self, text: str, room: RoomRef, meters: list[MeterRef]) -> dict[Utility, int]:
        chosen: dict[Utility, int] = {}
        for name in split_list(text):
            found = self.index.plans.get(key(name))
            if found is None:
                known = ", ".join(p[1] for p in self.index.plans.values()) or "none yet"
                raise SetupRefused("tariffs", f"There is no tariff plan {name!r}; plans: {known}.")
            plan_id, _name, utility = found
            if utility in chosen:
                raise SetupRefused("tariffs", f"Two {utility.value} tariffs are named; keep one.")
            chosen[utility] = plan_id
        metered = {m.utility for m in meters}
        missing = sorted(u.value for u in metered - set(chosen))
        if missing:
            raise SetupRefused(
                "tariffs",
                f"Room {room.label} has {' and '.join(missing)} meters and no tariff for them; "
                "name one plan per metered utility, separated by ;.",
            )
        return chosen

    def _tenant(self, row: SheetRow) -> None:
        v = row.values
        room = self._room_of(v["room"])
        if room is None:
            raise SetupRefused("room", "The room is empty; give the room's label (e.g. 7-101).")
        if key(room.label) in self._seen_rooms:
            raise SetupRefused(
                "room",
                f"Room {room.label} is already in this sheet at row "
                f"{self._seen_rooms[key(room.label)]}.",
            )
        self._seen_rooms[key(room.label)] = row.number
        holder = clean_text(
            v["holder"], "holder", "holder's name", column_length(Account.holder_name)
        )
        ref = clean_text(
            v.get("holder_ref", ""),
            "holder_ref",
            "holder's reference",
            column_length(Account.holder_ref),
            required=False,
        )
        phone = clean_text(
            v.get("phone", ""),
            "phone",
            "phone number",
            column_length(Account.phone),
            required=False,
        )
        policy = self.index.policies.get(key(v["policy"]))
        if policy is None:
            known = ", ".join(p[1] for p in self.index.policies.values()) or "none yet"
            raise SetupRefused(
                "policy",
                f"There is no balance policy {v['policy'].strip()!r}; policies: {known}. "
                "Import policies first ('main.py policy import').",
            )
        meters = self.index.meters_of(room)
        tariffs = self._plans(v["tariffs"], room, meters)
        opening = self._opening(v.get("opening_balance", ""))
        account = self.index.account_of(room)
        if account is None:
            number = str(self._next_number)
            self._next_number += 1
            new = AccountRef(None, number, room, holder, ref, phone, policy[0], tariffs)
            self.index.accounts[id(room)] = new
            self.plan.new_accounts.append(NewAccount(new, opening))
            money = f", opening balance {Money(opening, self.currency)}" if opening else ""
            self.change(
                "tenants", row.number, "add", f"account of {room.label}", f"{holder}{money}"
            )
            for meter in meters:  # as the meters sheet warns for a room with an account
                self._warn("tenants", row.number, self.profile(meter.profile), meter.serial, new)
            return
        if key(account.holder) != key(holder):
            raise SetupRefused(
                "holder",
                f"Room {room.label} has open account {account.number} of {account.holder}; move "
                "or settle it before another holder takes the room.",
            )
        said = []
        if account.holder_ref != ref:
            said.append(f"reference {account.holder_ref!r} -> {ref!r}")
        if account.phone != phone:
            said.append(f"phone {account.phone!r} -> {phone!r}")
        if account.policy_id != policy[0]:
            said.append(f"policy -> {policy[1]}")
        if any(account.tariffs.get(u) != p for u, p in tariffs.items()):
            said.append("tariffs -> " + ", ".join(self._plan_name(p) for p in tariffs.values()))
        if not said:
            self.plan.unchanged["tenants"] += 1
            return
        account.holder_ref, account.phone, account.policy_id = ref, phone, policy[0]
        account.tariffs.update(tariffs)
        if account.id is not None:
            self.plan.changed_accounts.append(account)
        self.change(
            "tenants",
            row.number,
            "change",
            f"account {account.number} ({room.label})",
            "; ".join(said),
        )

    def _plan_name(self, plan_id: int) -> str:
        return next(name for pid, name, _u in self.index.plans.values() if pid == plan_id)

    def _opening(self, text: str) -> int:
        if not text.strip():
            return 0
        try:
            amount = Money.parse(text, self.currency)
        except MoneyError as exc:
            raise SetupRefused("opening_balance", f"Opening balance: {exc}") from None
        if amount.minor < 0:
            raise SetupRefused(
                "opening_balance",
                "An opening balance cannot be negative; open at 0 and record what is owed as "
                "an adjustment.",
            )
        return amount.minor


def plan_workbook(index: SiteIndex, workbook: Workbook, currency: str) -> ImportPlan:
    """Every row of every sheet planned in order: rooms, buses, meters, tenants."""
    planner = Planner(index, currency)
    planner.rooms(workbook.sheets.get("rooms", ()))
    planner.buses(workbook.sheets.get("buses", ()))
    planner.meters(workbook.sheets.get("meters", ()))
    planner.tenants(workbook.sheets.get("tenants", ()))
    return planner.plan
