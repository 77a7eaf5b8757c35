"""Master side of DL/T 645-2007: the profile's protocol keys, and the MeterDriver.

Protocol-specific profile keys (checked by ``compile_profile`` when the profile is loaded)::

    [values.voltage_v]
    di = "02010100"          # data identifier, 8 hex digits, DI3 first
    scale = 1                # optional: multiply the meter's value into SI (power: 1000, kW -> W)
    length = 2               # only for identifiers not in resources/protocols/dlt645-2007-di.toml:
    decimals = 1             #   bytes, digits after the point,
    signed = false           #   top bit of the most significant byte is the sign

    [supply]
    kind = "relay"
    status_di = "04000503"   # optional: the status word holding the relay state (run status word 3)
    status_bit = 4           # optional: the bit that is 1 while the relay is open (supply off)
    close_action = "direct"  # optional: direct (1C, closes at once) | permit (1B, customer presses
                             #   the meter's button)
    command_valid_s = 600    # optional: relay command expiry, seconds after sending

    [dlt645]
    password = "02000000"    # optional: privilege level PA (2 digits) + 6-digit password
    operator_code = "00000000"  # optional: 8 digits, recorded by the meter with each command
    wake_up_bytes = 4        # optional: FE bytes sent before each request (0-16)
    clock_sync = "write"     # optional: how to set one meter's clock: write (14 of 04000101 and
                             #   04000102 with the password) | broadcast (08, no reply)
    relay_commands = "plain" # optional: plain | encrypted (the meter demands ESAM-encrypted 1C
                             #   commands; MeterDesk sends plain ones and explains a refusal)

    [prepaid]                # optional: meter-side prepaid parameters, name = data identifier
    alarm_1 = "04001001"     # alarm_1, alarm_2, overdraft_limit, hoard_limit, close_permit

    [alarm]                  # optional: the meter sounds its buzzer / lights its alarm LED when
    on = "2A"                #   told: N1 of the 1C command (DL/T 645-2007: 2A alarm, 2B alarm
    off = "2B"               #   released; a vendor's own code where its manual says so). Sent
                             #   with the password, operator code and [supply] command_valid_s
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.hardware.discovery import (
    GARBLED,
    NOTHING,
    Heard,
    SearchProgress,
    SearchResult,
    one,
    search,
)
from app.hardware.dlt645 import codec
from app.hardware.dlt645.codec import Frame, Function, RelayAction
from app.hardware.dlt645.di_table import METER_NUMBER_DI, DataItem, lookup, parse_di, required
from app.hardware.driver import SUPPLY_GROUP, MeterIdentity, ReadResult
from app.hardware.errors import (
    CommandRefused,
    ExceptionReply,
    FieldFault,
    FrameError,
    NoReply,
    ProfileError,
)
from app.hardware.link import Link
from app.hardware.profiles import Profile

PROTOCOL = "dlt645-2007"
VALUE_KEYS = {"di", "group", "scale", "length", "decimals", "signed"}
SUPPLY_KEYS = {"kind", "status_di", "status_bit", "close_action", "command_valid_s"}
OPTION_KEYS = {"password", "operator_code", "wake_up_bytes", "clock_sync", "relay_commands"}
ALARM_KEYS = {"on", "off"}
# N1 codes that switch the relay or keep power: never an alarm (a typo would cut a room).
NOT_ALARM_CODES = {
    RelayAction.TRIP,
    RelayAction.CLOSE_PERMIT,
    RelayAction.CLOSE_DIRECT,
    RelayAction.KEEP_POWER_ON,
    RelayAction.KEEP_POWER_OFF,
}
DEFAULT_COMMAND_VALID_S = 600
PREPAID_KEYS = ("alarm_1", "alarm_2", "overdraft_limit", "hoard_limit", "close_permit")
RUN_STATUS_3 = 0x04000503
DATE_DI = 0x04000101
TIME_DI = 0x04000102
ENERGY_DI = 0x00010000
DEFAULT_PASSWORD = "02000000"
DEFAULT_OPERATOR = "00000000"
MAX_FOLLOW_UPS = 32  # a meter that keeps saying "more" is broken
CLOSE_ACTIONS = {"direct": RelayAction.CLOSE_DIRECT, "permit": RelayAction.CLOSE_PERMIT}


@dataclass(frozen=True, slots=True)
class ValueSpec:
    name: str  # Snapshot field
    item: DataItem
    scale: Decimal
    group: str


@dataclass(frozen=True, slots=True)
class SupplySpec:
    status: DataItem
    open_bit: int
    close_action: RelayAction
    command_valid_s: int


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """N1 of the 1C commands that make the meter show its alarm and release it."""

    on: int
    off: int
    command_valid_s: int


@dataclass(frozen=True)
class Dlt645Settings:
    """A profile's DL/T 645 tables, checked and compiled."""

    values: tuple[ValueSpec, ...]
    supply: SupplySpec | None
    password: str = DEFAULT_PASSWORD
    operator_code: str = DEFAULT_OPERATOR
    wake_up: int = codec.DEFAULT_WAKE_UP
    clock_sync: str = "write"
    relay_commands: str = "plain"
    prepaid: Mapping[str, DataItem] = field(default_factory=dict)
    alarm: AlarmSpec | None = None


# --- profile ------------------------------------------------------------------------------


def _fail(profile: Profile, key: str, reason: str) -> ProfileError:
    return ProfileError(f"{profile.path.name}: {key}: {reason}")


def _unknown(profile: Profile, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(
            profile, f"{where}.{unknown[0]}", f"unknown key; use {', '.join(sorted(allowed))}"
        )


def _di(profile: Profile, value: object, key: str) -> int:
    di = parse_di(value)
    if di is None:
        raise _fail(profile, key, f'must be 8 hex digits like "02010100", not {value!r}')
    return di


def _int(profile: Profile, table: Mapping[str, Any], key: str, where: str, lo: int, hi: int) -> int:
    value = table[key]
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise _fail(
            profile, f"{where}.{key}", f"must be a whole number from {lo} to {hi}, not {value!r}"
        )
    return value


def _hex8(profile: Profile, table: Mapping[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or len(value) != 8 or not all(c.isdigit() for c in value):
        raise _fail(profile, f"dlt645.{key}", f"must be 8 digits in quotes, not {value!r}")
    return value


def _value_spec(profile: Profile, name: str, spec: Mapping[str, Any]) -> ValueSpec:
    where = f"values.{name}"
    _unknown(profile, spec, VALUE_KEYS, where)
    if "di" not in spec:
        raise _fail(profile, f"{where}.di", "missing: which data identifier holds this value")
    di = _di(profile, spec["di"], f"{where}.di")
    known = lookup(di)
    custom = {k: spec[k] for k in ("length", "decimals", "signed") if k in spec}
    if known is None and not {"length", "decimals"} <= set(custom):
        raise _fail(
            profile,
            f"{where}.di",
            f"{di:08X} is not in the DL/T 645 table; give length and decimals for it",
        )
    if known is not None and known.kind != "number":
        raise _fail(profile, f"{where}.di", f"{known.label} is a {known.kind}, not a number")
    length = _int(profile, spec, "length", where, 1, 8) if "length" in spec else None
    decimals = _int(profile, spec, "decimals", where, 0, 8) if "decimals" in spec else None
    signed = spec.get("signed")
    if signed is not None and not isinstance(signed, bool):
        raise _fail(profile, f"{where}.signed", "must be true or false")
    base = known or DataItem(di, f"{name} (profile)")
    item = DataItem(
        di,
        base.name,
        "number",
        length if length is not None else base.length,
        decimals if decimals is not None else base.decimals,
        signed if signed is not None else base.signed,
        base.unit,
        base.writable,
        base.param,
    )
    scale = spec.get("scale", 1)
    if not isinstance(scale, int | float) or isinstance(scale, bool) or not scale > 0:
        raise _fail(profile, f"{where}.scale", f"must be a positive number, not {scale!r}")
    return ValueSpec(name, item, Decimal(repr(scale)), str(spec.get("group", "fast")))


def _supply_spec(profile: Profile, supply: Mapping[str, Any]) -> SupplySpec:
    _unknown(profile, supply, SUPPLY_KEYS, "supply")
    if supply.get("kind") != "relay":
        raise _fail(profile, "supply.kind", "a DL/T 645 meter switches a relay, not a valve")
    status_di = _di(profile, supply.get("status_di", "04000503"), "supply.status_di")
    status = lookup(status_di)
    if status is None or status.kind != "word":
        raise _fail(profile, "supply.status_di", f"{status_di:08X} is not a known status word")
    open_bit = (
        _int(profile, supply, "status_bit", "supply", 0, 8 * status.length - 1)
        if "status_bit" in supply
        else codec.RUN_STATUS_3_RELAY_OPEN_BIT
    )
    action = supply.get("close_action", "direct")
    if action not in CLOSE_ACTIONS:
        raise _fail(profile, "supply.close_action", f"must be direct or permit, not {action!r}")
    valid_s = (
        _int(profile, supply, "command_valid_s", "supply", 10, 86_400)
        if "command_valid_s" in supply
        else DEFAULT_COMMAND_VALID_S
    )
    return SupplySpec(status, open_bit, CLOSE_ACTIONS[action], valid_s)


def _alarm_code(profile: Profile, alarm: Mapping[str, Any], key: str) -> int:
    if key not in alarm:
        raise _fail(
            profile, f"alarm.{key}", 'missing: the 1C action byte, like on = "2A" and off = "2B"'
        )
    value = alarm[key]
    text = value if isinstance(value, str) else ""
    if len(text) != 2 or not all(c in "0123456789abcdefABCDEF" for c in text):
        raise _fail(
            profile, f"alarm.{key}", f'must be 2 hex digits in quotes like "2A", not {value!r}'
        )
    code = int(text, 16)
    if code in NOT_ALARM_CODES:
        raise _fail(
            profile,
            f"alarm.{key}",
            f"{text.upper()} is the 1C action {RelayAction(code).label}, which switches the "
            "relay or keep power, not an alarm; DL/T 645-2007 has 2A alarm and 2B alarm released",
        )
    return code


def _alarm_spec(profile: Profile, alarm: Mapping[str, Any], supply: SupplySpec | None) -> AlarmSpec:
    _unknown(profile, alarm, ALARM_KEYS, "alarm")
    on, off = _alarm_code(profile, alarm, "on"), _alarm_code(profile, alarm, "off")
    if on == off:
        raise _fail(profile, "alarm.off", f"is {off:02X} like alarm.on: the alarm could never end")
    valid_s = supply.command_valid_s if supply is not None else DEFAULT_COMMAND_VALID_S
    return AlarmSpec(on, off, valid_s)


def compile_profile(profile: Profile) -> Dlt645Settings:
    """Check a dlt645-2007 profile's own tables and compile them. ProfileError names the file
    and the key."""
    if profile.protocol != PROTOCOL:
        raise _fail(profile, "protocol", f"is {profile.protocol!r}, not {PROTOCOL}")
    if profile.utility != "electricity":
        raise _fail(profile, "utility", "DL/T 645-2007 meters measure electricity")
    values = tuple(_value_spec(profile, name, spec) for name, spec in profile.values.items())
    supply = None if profile.supply is None else _supply_spec(profile, profile.supply)
    options = profile.options
    _unknown(profile, options, OPTION_KEYS, "dlt645")
    password = _hex8(profile, options, "password", DEFAULT_PASSWORD)
    operator = _hex8(profile, options, "operator_code", DEFAULT_OPERATOR)
    wake_up = (
        _int(profile, options, "wake_up_bytes", "dlt645", 0, 16)
        if "wake_up_bytes" in options
        else codec.DEFAULT_WAKE_UP
    )
    clock_sync = options.get("clock_sync", "write")
    if clock_sync not in ("broadcast", "write"):
        raise _fail(profile, "dlt645.clock_sync", f"must be broadcast or write, not {clock_sync!r}")
    relay_commands = options.get("relay_commands", "plain")
    if relay_commands not in ("plain", "encrypted"):
        raise _fail(
            profile, "dlt645.relay_commands", f"must be plain or encrypted, not {relay_commands!r}"
        )
    prepaid: dict[str, DataItem] = {}
    for key, value in (profile.prepaid or {}).items():
        if key not in PREPAID_KEYS:
            raise _fail(profile, f"prepaid.{key}", f"unknown key; use {', '.join(PREPAID_KEYS)}")
        item = lookup(_di(profile, value, f"prepaid.{key}"))
        if item is None or item.kind != "number" or not item.writable:
            raise _fail(profile, f"prepaid.{key}", f"{value} is not a writable amount we know")
        prepaid[key] = item
    if profile.load_guard is not None:
        raise _fail(profile, "load_guard", "not supported for dlt645-2007 meters yet")
    alarm = None if profile.alarm is None else _alarm_spec(profile, profile.alarm, supply)
    return Dlt645Settings(
        values, supply, password, operator, wake_up, clock_sync, relay_commands, prepaid, alarm
    )


def validate_profile(profile: Profile) -> None:
    compile_profile(profile)


# --- driver -------------------------------------------------------------------------------


def local_now() -> datetime:
    """Site-local wall time without a zone, as meters keep it."""
    return datetime.now().astimezone().replace(tzinfo=None)


class Dlt645Driver:
    """MeterDriver for profiles with protocol ``dlt645-2007``. One request per data identifier
    (DL/T 645-2007 basic use has no multi-identifier read)."""

    def __init__(self, profile: Profile, *, now: Callable[[], datetime] = local_now) -> None:
        self.profile = profile
        self.settings = compile_profile(profile)
        self._now = now

    # --- MeterDriver ----------------------------------------------------------------------

    def read(self, link: Link, address: str, groups: frozenset[str]) -> ReadResult:
        address = codec.normalize_address(address)
        result = ReadResult()
        answered = False  # did anything come back that the meter meant?
        last_fault: FieldFault | None = None
        reads: list[tuple[str, DataItem]] = [
            (spec.name, spec.item) for spec in self.settings.values if spec.group in groups
        ]
        supply = self.settings.supply
        if supply is not None and SUPPLY_GROUP in groups:
            reads.append(("supply", supply.status))
        scales = {spec.name: spec.scale for spec in self.settings.values}
        for name, item in reads:
            try:
                raw = self._read(link, address, item)
            except NoReply:
                if not answered:
                    raise  # the meter is not there: do not wait once per identifier
                result.failures.append(f"{name} ({item.code}): no reply")
                continue
            except ExceptionReply as exc:
                answered = True
                result.failures.append(f"{name} ({item.code}): {exc}")
                continue
            except FieldFault as exc:
                last_fault = exc
                result.failures.append(f"{name} ({item.code}): {exc}")
                continue
            answered = True
            if name == "supply" and supply is not None:
                word = codec.decode_word(raw)
                result.supply_on = not word >> supply.open_bit & 1
                result.status.update(codec.decode_run_status_3(word))
            else:
                result.values[name] = float(item.decode_number(raw) * scales[name])
        if not answered and last_fault is not None:
            raise last_fault
        return result

    def set_supply(self, link: Link, address: str, on: bool) -> None:
        address = codec.normalize_address(address)
        supply = self.settings.supply
        if supply is None:
            raise CommandRefused(
                f"{self.profile.title} has no relay: its profile {self.profile.path.name} "
                "has no [supply] table"
            )
        action = supply.close_action if on else RelayAction.TRIP
        expiry = self._now() + timedelta(seconds=supply.command_valid_s)
        request = codec.relay_request(
            address,
            self.settings.password,
            self.settings.operator_code,
            action,
            expiry,
            wake_up=self.settings.wake_up,
        )
        frame = self._exchange(
            link, address, request, Function.RELAY, f"relay control {action.label}", errors=False
        )
        if frame.is_error:
            raise CommandRefused(self._refusal(address, action.label, frame.data), _code(frame))

    def show_alarm(self, link: Link, address: str, on: bool) -> None:
        """Make the meter show its alarm (buzzer, alarm LED, display) or release it: the 1C
        command with the profile's [alarm] action byte. The meter's acknowledgement is all
        there is to check (no status word says the alarm is on). CommandRefused if the meter
        says no or the profile has no [alarm] table."""
        address = codec.normalize_address(address)
        alarm = self.settings.alarm
        if alarm is None:
            raise CommandRefused(
                f"{self.profile.title} cannot be told to show an alarm: its profile "
                f"{self.profile.path.name} has no [alarm] table"
            )
        action = alarm.on if on else alarm.off
        label = f"alarm {'on' if on else 'off'} ({codec.action_label(action)})"
        request = codec.relay_request(
            address,
            self.settings.password,
            self.settings.operator_code,
            action,
            self._now() + timedelta(seconds=alarm.command_valid_s),
            wake_up=self.settings.wake_up,
        )
        frame = self._exchange(
            link, address, request, Function.RELAY, f"relay control {label}", errors=False
        )
        if frame.is_error:
            raise CommandRefused(
                self._refusal(address, label, frame.data, what="alarm command"), _code(frame)
            )

    def read_supply(self, link: Link, address: str) -> bool | None:
        supply = self.settings.supply
        if supply is None:
            return None
        address = codec.normalize_address(address)
        word = codec.decode_word(self._read(link, address, supply.status))
        return not word >> supply.open_bit & 1

    def probe(self, link: Link, address: str) -> bool:
        """Read the energy identifier. No reply: False. An error reply still means a meter
        answered: True. A garbled reply raises its FrameError (the scan counts it)."""
        address = codec.normalize_address(address)
        item, _scale = self._energy()
        try:
            self._read(link, address, item)
        except NoReply:
            return False
        except ExceptionReply:
            return True
        return True

    def _energy(self) -> tuple[DataItem, Decimal | None]:
        """Where the import energy is read and the scale to kWh: the profile's
        energy_import_kwh, else 00010000 as it reads (scale None)."""
        energy = next((s for s in self.settings.values if s.name == "energy_import_kwh"), None)
        if energy is None:
            return required(ENERGY_DI), None
        return energy.item, energy.scale

    def discover(self, link: Link) -> str | None:
        """Read address (13) with the AA…AA wildcard: only works with one meter on the line
        (several answer at once and garble each other: FrameError). ``discover_all`` finds
        them all."""
        request = codec.read_address_request(wake_up=self.settings.wake_up)
        raw = link.transact(
            request,
            codec.frame_length,
            address=codec.WILDCARD,
            note="read address (13) with wildcard AAAAAAAAAAAA",
            shortest=codec.SHORTEST_FRAME,
        )
        frame = codec.check_reply(
            codec.decode_frame(raw), function=Function.READ_ADDRESS, address=None
        )
        return codec.parse_address_reply(frame)

    def discover_all(
        self,
        link: Link,
        progress: SearchProgress | None = None,
        cancel: threading.Event | None = None,
        on_found: Callable[[str], None] | None = None,
    ) -> SearchResult:
        """Find every meter on the line: ``discovery.search`` asking read address (13) of
        address patterns with A wildcard digits, least significant digit first."""
        return search(
            lambda pattern: self.ask_address(link, pattern),
            codec.ADDRESS_DIGITS,
            progress=progress,
            cancel=cancel,
            on_found=on_found,
        )

    def ask_address(self, link: Link, pattern: str) -> Heard:
        """Read address (13) to ``pattern`` (12 characters, A digits are wildcards): nothing,
        one meter, or garbled bytes (colliding replies). A reply names one meter only when its
        header and its data carry the same 12-digit address and ``pattern`` selects it."""
        request = codec.read_address_request(pattern, wake_up=self.settings.wake_up)
        try:
            raw = link.transact(
                request,
                codec.frame_length,
                address=pattern,
                note=f"read address (13) of {pattern}",
                shortest=codec.SHORTEST_FRAME,
            )
            frame = codec.check_reply_header(
                codec.decode_frame(raw), function=Function.READ_ADDRESS, address=None
            )
            address = frame.address if frame.is_error else codec.parse_address_reply(frame)
        except NoReply:
            return NOTHING
        except FrameError:
            return GARBLED
        if address != frame.address or not codec.address_matches(pattern, address):
            return GARBLED
        return one(address) if codec.is_meter_address(address) else GARBLED

    def identify(self, link: Link, address: str) -> MeterIdentity | None:
        """Read the import energy (the profile's energy_import_kwh, else 00010000) and the
        meter number (04000402). None when nothing answers the energy read; an error reply
        still means a meter is there (its register is then None)."""
        address = codec.normalize_address(address)
        item, scale = self._energy()
        try:
            register: Decimal | None = item.decode_number(self._read(link, address, item))
        except NoReply:
            return None
        except ExceptionReply:
            register = None
        if register is not None and scale is not None:
            register *= scale
        return MeterIdentity(self._meter_number(link, address), register, "kWh")

    def read_clock(self, link: Link, address: str) -> datetime | None:
        address = codec.normalize_address(address)
        date_item, time_item = required(DATE_DI), required(TIME_DI)
        day = codec.decode_date(self._read(link, address, date_item))
        moment = codec.decode_time(self._read(link, address, time_item))
        if moment.hour == 0 and moment.minute == 0 and moment.second < 10:
            # The date may have been read just before midnight: read it again.
            day = codec.decode_date(self._read(link, address, date_item))
        return datetime.combine(day, moment)

    def sync_clock(self, link: Link, address: str | None, when: datetime) -> None:
        """Broadcast 08 (no reply) when ``address`` is None or the profile says so; otherwise
        write the date (04000101) and the time (04000102) with the password."""
        if address is None or self.settings.clock_sync == "broadcast":
            link.send(
                codec.broadcast_time_request(when, wake_up=self.settings.wake_up),
                address=codec.BROADCAST,
                note=f"broadcast time sync (08) to {when:%Y-%m-%d %H:%M:%S}",
            )
            return
        address = codec.normalize_address(address)
        date_item, time_item = required(DATE_DI), required(TIME_DI)
        self._write(link, address, date_item, date_item.encode(when.date()))
        self._write(link, address, time_item, time_item.encode(when.time().replace(microsecond=0)))

    # --- prepaid parameters ---------------------------------------------------------------

    def read_parameter(self, link: Link, address: str, name: str) -> Decimal:
        """A meter-side prepaid parameter named in the profile's [prepaid] table."""
        item = self._prepaid(name)
        return item.decode_number(self._read(link, codec.normalize_address(address), item))

    def write_parameter(self, link: Link, address: str, name: str, value: Decimal) -> None:
        item = self._prepaid(name)
        self._write(link, codec.normalize_address(address), item, item.encode(value))

    # --- raw access (technician's diagnostics) --------------------------------------------

    def read_di(self, link: Link, address: str, di: int) -> bytes:
        """The data of any identifier as the meter holds it (0x33 removed, least significant
        byte first), whatever its length. ExceptionReply when the meter has no such data."""
        item = lookup(di)
        label = item.label if item is not None else f"{di:08X}"
        return self._read_data(link, codec.normalize_address(address), di, label)

    def write_di(self, link: Link, address: str, di: int, data: bytes) -> None:
        """Write ``data`` (as the meter holds it, least significant byte first) to identifier
        ``di`` with the profile's password and operator code. CommandRefused if refused."""
        item = lookup(di) or DataItem(di, "(not in the DI table)", "word", len(data))
        self._write(link, codec.normalize_address(address), item, data)

    # --- wire -----------------------------------------------------------------------------

    def _meter_number(self, link: Link, address: str) -> str | None:
        """The meter number (04000402) with its leading zeros; None if the meter will not
        tell (no such data, no reply, garbled)."""
        item = required(METER_NUMBER_DI)
        try:
            number = item.decode_number(self._read(link, address, item))
        except FieldFault:
            return None
        return f"{int(number):0{2 * item.length}d}"

    def _prepaid(self, name: str) -> DataItem:
        item = self.settings.prepaid.get(name)
        if item is None:
            raise KeyError(f"{self.profile.path.name} has no [prepaid] {name}")
        return item

    def _exchange(
        self,
        link: Link,
        address: str,
        request: bytes,
        function: int,
        note: str,
        *,
        errors: bool = True,
    ) -> Frame:
        raw = link.transact(
            request, codec.frame_length, address=address, note=note, shortest=codec.SHORTEST_FRAME
        )
        frame = codec.decode_frame(raw)
        if errors:
            return codec.check_reply(frame, function=function, address=address)
        return codec.check_reply_header(frame, function=function, address=address)

    def _read(self, link: Link, address: str, item: DataItem) -> bytes:
        """The data of one identifier, following up while the meter says more frames follow."""
        data = self._read_data(link, address, item.di, item.label)
        if len(data) != item.length:
            raise FrameError(f"{item.label}: {len(data)} data bytes, expected {item.length}")
        return data

    def _read_data(self, link: Link, address: str, di: int, label: str) -> bytes:
        wake = self.settings.wake_up
        note = f"read {label}"
        frame = self._exchange(
            link, address, codec.read_request(address, di, wake_up=wake), Function.READ, note
        )
        data, more = codec.parse_read_reply(frame, di)
        sequence = 0
        while more:
            sequence += 1
            if sequence > MAX_FOLLOW_UPS:
                raise FrameError(f"{label}: more than {MAX_FOLLOW_UPS} follow-up frames")
            request = codec.read_follow_request(address, di, sequence, wake_up=wake)
            frame = self._exchange(
                link,
                address,
                request,
                Function.READ_FOLLOW,
                f"read follow-up {sequence} of {label}",
            )
            chunk, more = codec.parse_follow_reply(frame, di, sequence)
            data += chunk
        return data

    def _write(self, link: Link, address: str, item: DataItem, value: bytes) -> None:
        request = codec.write_request(
            address,
            item.di,
            self.settings.password,
            self.settings.operator_code,
            value,
            wake_up=self.settings.wake_up,
        )
        frame = self._exchange(
            link, address, request, Function.WRITE, f"write {item.label}", errors=False
        )
        if frame.is_error:
            raise CommandRefused(
                f"meter {address} refused to write {item.label}: "
                + codec.describe_error(frame.data)
                + self._password_hint(frame.data, relay=False),
                _code(frame),
            )

    def _password_hint(self, error: bytes, *, relay: bool) -> str:
        word = int.from_bytes(error, "little")
        password_bit = codec.RELAY_ERR_PASSWORD if relay and len(error) >= 2 else codec.ERR_PASSWORD
        if word & password_bit:
            return f". Check password and operator_code under [dlt645] in {self.profile.path.name}"
        return ""

    def _refusal(
        self, address: str, command: str, error: bytes, *, what: str = "relay command"
    ) -> str:
        word = int.from_bytes(error, "little")
        unauthorised = bool(
            word & (codec.RELAY_ERR_PASSWORD if len(error) >= 2 else codec.ERR_PASSWORD)
        )
        if codec.demands_encryption(error) or (
            unauthorised and self.settings.relay_commands == "encrypted"
        ):
            return (
                f"Meter {address} refused the {what} {command}: this meter demands "
                "encrypted (ESAM-authenticated) relay commands, and MeterDesk sends plain ones. "
                "Switch it from the utility's system, or have the meter set up to accept plain "
                f"commands ({codec.describe_error(error, relay=True)})"
            )
        return (
            f"Meter {address} refused the {what} {command}: "
            + codec.describe_error(error, relay=True)
            + self._password_hint(error, relay=True)
        )


def _code(frame: Frame) -> int | None:
    return int.from_bytes(frame.data, "little") if frame.data else None
