"""Simulator side of DL/T 645-2007: answers request frames for simulated meters.

What a simulated meter does (as a single-phase cost-control meter does):
- read (11) of every identifier in the DL/T 645 table, from ``SimMeter.state()``, its clock and
  its ``params``; an unknown identifier gets error reply D1 "no data requested". A reply longer
  than ``max_reply_data`` is sent in follow-up frames (B1, then 12 -> B2 ... 92).
- read address (13) to an address with A wildcard digits (AA…AA: any meter): every meter the
  pattern selects answers with its address; several at once collide on the line (the Answerer
  overlays their replies, ``simulator.collision``).
- read (11) of the meter number 04000402: ``params["meter_number"]`` if set, else the address.
- write (14) of the writable identifiers, with the profile's password: the clock, and the prepaid
  limits (stored in ``SimMeter.params`` under their ``param`` name).
- relay control (1C) with the profile's password: 1A trip (refused while keep power is on),
  1B close permitted (the relay stays open until the customer presses the button), 1C direct
  close, 2A/2B alarm (or the action bytes of the profile's [alarm] table; the state is
  ``SimMeter.alarm_on``), 3A/3B keep power. With ``relay_commands = "encrypted"`` in the profile the
  meter refuses plain commands with the two-byte control error word (not authorised, identity
  authentication missing), as ESAM meters do.
- broadcast time sync (08 to 99…99): sets every meter's clock, no reply.
The command expiry time of 1C is checked for validity but not against the meter clock, so that
demos with a fast simulated clock keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from app.hardware.dlt645 import codec
from app.hardware.dlt645.codec import Frame, Function, RelayAction
from app.hardware.dlt645.di_table import METER_NUMBER_DI, DataItem, Value, lookup
from app.hardware.errors import FrameError

if TYPE_CHECKING:
    from app.hardware.simulator.sim_meter import SimMeter, SimState

REPLY_WAKE_UP = 2  # meters often lead a reply with a few FE bytes
MAX_REPLY_DATA = 200  # data bytes of one reply frame before follow-up frames are used
METER_TYPE_MONEY_PREPAID = 2 << codec.RUN_STATUS_3_METER_TYPE_SHIFT


class Dlt645Responder:
    def __init__(
        self, meters: Mapping[str, SimMeter], *, max_reply_data: int = MAX_REPLY_DATA
    ) -> None:
        if not 6 <= max_reply_data <= codec.MAX_DATA:
            raise ValueError("max_reply_data must leave room for the DI and a sequence number")
        self.meters = meters
        self.max_reply_data = max_reply_data
        self._pending: dict[str, tuple[int, list[bytes]]] = {}  # follow-up frames still to send

    # --- Responder --------------------------------------------------------------------------

    def addressees(self, request: bytes) -> list[tuple[str, SimMeter]]:
        frame = _request(request)
        if frame is None or frame.address == codec.BROADCAST:
            return []
        return [(key, self.meters[key]) for key in self._select(frame.address)]

    def handle(self, request: bytes, key: str | None = None) -> bytes | None:
        frame = _request(request)
        if frame is None:
            return None  # a meter ignores what it cannot read, and other meters' replies
        if frame.address == codec.BROADCAST:
            if frame.function == Function.BROADCAST_TIME:
                self._broadcast_time(frame.data)
            return None
        if key is None:
            keys = self._select(frame.address)
            if len(keys) != 1:
                return None  # several would answer at once: the line carries the collision
            key = keys[0]
        meter = self.meters[key]
        address = codec.normalize_address(key)
        handlers: dict[int, Callable[[SimMeter, str, Frame], bytes]] = {
            Function.READ: self._read,
            Function.READ_FOLLOW: self._read_follow,
            Function.READ_ADDRESS: self._read_address,
            Function.WRITE: self._write,
            Function.RELAY: self._relay,
        }
        handler = handlers.get(frame.function)
        if handler is None:
            return _error(address, frame.function, codec.ERR_OTHER)
        return handler(meter, address, frame)

    # --- addressing -------------------------------------------------------------------------

    def _select(self, pattern: str) -> list[str]:
        """The keys of the meters a request address selects (A digits are wildcards), in key
        order."""
        matches = []
        for key in sorted(self.meters):
            try:
                address = codec.normalize_address(key)
            except ValueError:
                continue
            if codec.address_matches(pattern, address):
                matches.append(key)
        return matches

    # --- functions --------------------------------------------------------------------------

    def _read(self, meter: SimMeter, address: str, frame: Frame) -> bytes:
        if len(frame.data) != 4:
            return _error(address, Function.READ, codec.ERR_OTHER)
        di = int.from_bytes(frame.data, "little")
        item = lookup(di)
        payload = None if item is None else self._render(meter, item)
        if item is None or payload is None:
            return _error(address, Function.READ, codec.ERR_NO_DATA)
        room = self.max_reply_data - 4
        self._pending.pop(address, None)
        if len(payload) <= room:
            return _reply(address, Function.READ, frame.data + payload)
        follow_room = self.max_reply_data - 5  # DI and SEQ
        rest = payload[room:]
        chunks = [rest[i : i + follow_room] for i in range(0, len(rest), follow_room)]
        self._pending[address] = (di, chunks)
        return _reply(address, Function.READ, frame.data + payload[:room], more=True)

    def _read_follow(self, meter: SimMeter, address: str, frame: Frame) -> bytes:
        if len(frame.data) != 5:
            return _error(address, Function.READ_FOLLOW, codec.ERR_OTHER)
        di = int.from_bytes(frame.data[:4], "little")
        pending = self._pending.get(address)
        if pending is None or pending[0] != di or not pending[1]:
            return _error(address, Function.READ_FOLLOW, codec.ERR_NO_DATA)
        chunk = pending[1].pop(0)
        more = bool(pending[1])
        if not more:
            del self._pending[address]
        data = frame.data[:4] + chunk + frame.data[4:]
        return _reply(address, Function.READ_FOLLOW, data, more=more)

    def _read_address(self, meter: SimMeter, address: str, frame: Frame) -> bytes:
        return _reply(address, Function.READ_ADDRESS, codec.encode_address(address))

    def _write(self, meter: SimMeter, address: str, frame: Frame) -> bytes:
        data = frame.data
        if len(data) < 12:
            return _error(address, Function.WRITE, codec.ERR_OTHER)
        if data[4:8] != _password(meter):
            return _error(address, Function.WRITE, codec.ERR_PASSWORD)
        item = lookup(int.from_bytes(data[:4], "little"))
        if item is None:
            return _error(address, Function.WRITE, codec.ERR_NO_DATA)
        if not item.writable:
            return _error(address, Function.WRITE, codec.ERR_PASSWORD)
        try:
            value = item.decode(data[12:])
        except FrameError:
            return _error(address, Function.WRITE, codec.ERR_OTHER)
        now = meter.clock_now()
        if isinstance(value, date):
            meter.set_clock(datetime.combine(value, now.time()))
        elif isinstance(value, time):
            meter.set_clock(datetime.combine(now.date(), value))
        elif item.param is not None:
            meter.params[item.param] = value
        else:
            return _error(address, Function.WRITE, codec.ERR_OTHER)
        return _reply(address, Function.WRITE)

    def _relay(self, meter: SimMeter, address: str, frame: Frame) -> bytes:
        data = frame.data
        if meter.profile.options.get("relay_commands") == "encrypted":
            word = codec.RELAY_ERR_PASSWORD | codec.RELAY_ERR_IDENTITY
            return codec.error_reply_frame(
                address, Function.RELAY, word.to_bytes(2, "little"), wake_up=REPLY_WAKE_UP
            )
        if len(data) != 16:
            return _error(address, Function.RELAY, codec.ERR_OTHER)
        if data[:4] != _password(meter):
            return _error(address, Function.RELAY, codec.ERR_PASSWORD)
        alarm_on, alarm_off = _alarm_codes(meter)
        try:
            codec.decode_datetime6(data[10:16])
            action = data[8] if data[8] in (alarm_on, alarm_off) else RelayAction(data[8])
        except (FrameError, ValueError):
            return _error(address, Function.RELAY, codec.ERR_OTHER)
        params = meter.params
        if action in (alarm_on, alarm_off):
            params["alarm"] = action == alarm_on
        elif action == RelayAction.TRIP:
            if params.get("keep_power"):
                return _error(address, Function.RELAY, codec.ERR_OTHER)
            meter.set_supply(False)
            params["relay_command_open"] = True
        elif action == RelayAction.CLOSE_DIRECT:
            meter.set_supply(True)
            params["relay_command_open"] = False
        elif action == RelayAction.CLOSE_PERMIT:
            params["relay_command_open"] = False  # closes when the customer presses the button
        elif action in (RelayAction.ALARM_ON, RelayAction.ALARM_OFF):
            return _error(address, Function.RELAY, codec.ERR_OTHER)  # this model's are others
        else:
            params["keep_power"] = action == RelayAction.KEEP_POWER_ON
        return _reply(address, Function.RELAY)

    def _broadcast_time(self, data: bytes) -> None:
        try:
            when = codec.decode_datetime6(data)
        except FrameError:
            return
        for meter in self.meters.values():
            meter.set_clock(when)

    # --- values -----------------------------------------------------------------------------

    def _render(self, meter: SimMeter, item: DataItem) -> bytes | None:
        """The meter's data for one identifier; None when this meter has no such data."""
        value = _value(meter, item)
        if value is None:
            return None
        try:
            return item.encode(value)
        except ValueError:
            return None


def _value(meter: SimMeter, item: DataItem) -> Value | float | None:
    if item.di == METER_NUMBER_DI:
        number = str(meter.params.get("meter_number", meter.address)).strip()
        return Decimal(number) if number.isdigit() else None
    if item.param is not None:
        stored = meter.params.get(item.param, Decimal(0))
        if isinstance(stored, str):
            try:
                return Decimal(stored)
            except InvalidOperation:
                return None
        return stored if isinstance(stored, Decimal | int | float) else None
    if item.kind == "date":
        return meter.clock_now().date()
    if item.kind == "time":
        return meter.clock_now().time()
    state = meter.state()
    if item.kind == "word":
        return _status_word(meter, state) if item.di == 0x04000503 else None
    return _measurement(meter, state, item.di)


def _measurement(meter: SimMeter, state: SimState, di: int) -> float | None:
    phases = meter.profile.phases
    share = 1 / phases  # a balanced load on a three-phase meter
    values: dict[int, float] = {
        0x00000000: state.energy_import_kwh,
        0x00010000: state.energy_import_kwh,
        0x00010100: state.energy_rate_kwh[0],
        0x00010200: state.energy_rate_kwh[1],
        0x00010300: state.energy_rate_kwh[2],
        0x00010400: state.energy_rate_kwh[3],
        0x02010100: state.voltage_v,
        0x02020100: state.current_a if phases == 1 else state.current_a * share,
        0x02030000: state.power_w / 1000,
        0x02030100: state.power_w * share / 1000,
        0x02060000: state.power_factor,
        0x02060100: state.power_factor,
    }
    if phases == 3:
        for phase in (0x0200, 0x0300):
            values[0x02010000 | phase] = state.voltage_v
            values[0x02020000 | phase] = state.current_a * share
    return values.get(di)


def _status_word(meter: SimMeter, state: SimState) -> int:
    relay_open = not state.supply_on
    command_open = bool(meter.params.get("relay_command_open", relay_open))
    return (
        relay_open << codec.RUN_STATUS_3_RELAY_OPEN_BIT
        | command_open << codec.RUN_STATUS_3_RELAY_COMMAND_OPEN_BIT
        | METER_TYPE_MONEY_PREPAID
    )


def _alarm_codes(meter: SimMeter) -> tuple[int, int]:
    """N1 of the meter's alarm on and off: its profile's [alarm] table (checked on load), else
    the standard's 2A and 2B."""
    alarm = meter.profile.alarm or {}
    try:
        return int(str(alarm["on"]), 16), int(str(alarm["off"]), 16)
    except (KeyError, ValueError):
        return RelayAction.ALARM_ON, RelayAction.ALARM_OFF


def _password(meter: SimMeter) -> bytes:
    password = meter.profile.options.get("password", "02000000")
    try:
        return codec.encode_password(str(password))
    except ValueError:
        return b""


def _request(raw: bytes) -> Frame | None:
    """A request frame as a meter reads it; None for garbage or a reply."""
    try:
        frame = codec.decode_frame(raw)
    except FrameError:
        return None
    return None if frame.is_reply else frame


def _reply(address: str, function: int, data: bytes = b"", *, more: bool = False) -> bytes:
    return codec.reply_frame(address, function, data, more=more, wake_up=REPLY_WAKE_UP)


def _error(address: str, function: int, error: int) -> bytes:
    return codec.error_reply_frame(address, function, bytes([error]), wake_up=REPLY_WAKE_UP)
