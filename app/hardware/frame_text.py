"""What one frame on the wire means, in words, for the technician's frame log.

Pure functions: bytes in, text out. ``describe_frame`` never raises for bad bytes: a frame that
cannot be decoded says why ("checksum error ..."). The protocol is taken from the caller's hint
or recognised from the bytes (a valid DL/T 645 or CJ/T 188 frame, else Modbus RTU or MBAP).

- DL/T 645-2007: data shown with the 0x33 offset removed (the bytes in wire order), the data
  identifier in the usual order (DI3 first, e.g. ``02010100``) with its name, a read reply's value
  decoded with its unit, an error reply's error word in words.
- Modbus: unit, function, register range, values; exception replies named.
- CJ/T 188: meter type, address, function, DI and the data bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time

from app.hardware import bcd_frame
from app.hardware.cjt188 import codec as cjt
from app.hardware.dlt645 import codec as dlt
from app.hardware.dlt645.di_table import lookup
from app.hardware.errors import FrameError
from app.hardware.modbus.pymodbus_adapter import crc16, exception_name

DLT645 = "dlt645-2007"
MODBUS = "modbus-rtu"
CJT188 = "cjt188"
MAX_REGISTERS_SHOWN = 16

DLT645_FUNCTIONS: dict[int, str] = {
    dlt.Function.BROADCAST_TIME: "broadcast time sync",
    dlt.Function.READ: "read",
    dlt.Function.READ_FOLLOW: "read follow-up",
    dlt.Function.READ_ADDRESS: "read address",
    dlt.Function.WRITE: "write",
    dlt.Function.WRITE_ADDRESS: "write address",
    dlt.Function.FREEZE: "freeze",
    dlt.Function.CHANGE_BAUD: "change baud rate",
    dlt.Function.CHANGE_PASSWORD: "change password",
    dlt.Function.RELAY: "relay control",
}
MODBUS_FUNCTIONS = {
    0x03: "read holding registers",
    0x04: "read input registers",
    0x06: "write register",
    0x10: "write registers",
}
CJT188_DIS = {
    cjt.DI_METER_DATA: "meter data",
    cjt.DI_KEY_VERSION: "key version",
    cjt.DI_ADDRESS: "address",
    cjt.DI_REAL_TIME: "real time",
    cjt.DI_VALVE: "valve control",
    cjt.DI_WRITE_ADDRESS: "write address",
}
VALVE_ACTIONS = {0x55: "open", 0x99: "close"}


def hex_bytes(data: bytes) -> str:
    """``68 01 02`` (upper case, spaced), as the log and the CSV show raw frames."""
    return data.hex(" ").upper()


def describe_frame(data: bytes, direction: str, note: str = "", protocol: str | None = None) -> str:
    """The meaning of one frame. ``direction`` is "tx" (console to meter) or "rx"; ``note`` is
    what the driver meant by a request (added where the bytes alone do not say it);
    ``protocol`` the name a profile uses, or None to recognise it from the bytes."""
    if not data:
        return "empty frame"
    chosen = protocol or recognise(data)
    reply = direction == "rx"
    if chosen == DLT645:
        return describe_dlt645(data, reply)
    if chosen == CJT188:
        return describe_cjt188(data, reply)
    text = describe_modbus(data, reply)
    return f"{text} ({note})" if note and not reply else text


def recognise(data: bytes) -> str:
    """Which protocol's frame ``data`` is: a checked DL/T 645 or CJ/T 188 frame, else Modbus
    when its CRC is right, else the protocol its shape suggests."""
    checks: tuple[tuple[str, Callable[[bytes], object]], ...] = (
        (DLT645, dlt.decode_frame),
        (CJT188, lambda raw: cjt.decode_frame(raw, wildcards=True)),
    )
    for name, decode in checks:
        try:
            decode(data)
        except FrameError:
            continue
        return name
    if len(data) >= 4 and crc16(data[:-2]) == data[-2:]:
        return MODBUS
    body = data[bcd_frame.wake_up_count(data) :]
    if body[:1] == bytes([bcd_frame.START]) and len(body) > 7:
        return DLT645 if body[7] == bcd_frame.START else CJT188
    return MODBUS


# --- DL/T 645-2007 --------------------------------------------------------------------------


def _dlt_value(di: int, raw: bytes) -> str:
    """``= 220.0 V`` for a known identifier whose data fits its format, else ""."""
    item = lookup(di)
    if item is None:
        return ""
    try:
        value = item.decode(raw)
    except FrameError:
        return ""
    if isinstance(value, date | time):
        return f" = {value.isoformat()}"
    if item.kind == "word":
        return f" = {value:0{2 * item.length}X}h"
    return f" = {value}{' ' + item.unit if item.unit else ''}"


def _di_text(di: int) -> str:
    item = lookup(di)
    return f"DI {di:08X}" + (f" {item.name}" if item is not None else "")


def describe_dlt645(data: bytes, reply: bool) -> str:
    try:
        frame = dlt.decode_frame(data)
    except FrameError as exc:
        return f"DL/T 645 frame not valid: {exc}"
    function = frame.function
    name = DLT645_FUNCTIONS.get(function, f"function {function:02X}")
    kind = "error reply" if frame.is_error else ("reply" if frame.is_reply else "request")
    more = ", more follows" if frame.has_more else ""
    head = f"{frame.address} · {frame.control:02X} {name} {kind}{more}"
    payload = frame.data
    shown = f" · data−33h: {hex_bytes(payload)}" if payload else ""
    if frame.is_error:
        relay = function == dlt.Function.RELAY
        return f"{head}: {dlt.describe_error(payload, relay=relay)}{shown}"
    detail = _dlt645_detail(function, frame.is_reply, payload)
    return f"{head}{': ' + detail if detail else ''}{shown}"


def _dlt645_detail(function: int, is_reply: bool, payload: bytes) -> str:
    di = int.from_bytes(payload[:4], "little") if len(payload) >= 4 else None
    if function in (dlt.Function.READ, dlt.Function.READ_FOLLOW) and di is not None:
        if not is_reply:
            return _di_text(di)
        value = payload[4:-1] if function == dlt.Function.READ_FOLLOW else payload[4:]
        return _di_text(di) + _dlt_value(di, value)
    if function == dlt.Function.WRITE and di is not None and not is_reply:
        value = payload[12:]
        return f"{_di_text(di)}{_dlt_value(di, value)} (with password and operator code)"
    if function == dlt.Function.READ_ADDRESS and is_reply and len(payload) == 6:
        return f"address {bcd_frame.digits_from_wire(payload)}"
    if function == dlt.Function.BROADCAST_TIME and len(payload) == 6:
        try:
            return f"set clocks to {dlt.decode_datetime6(payload):%Y-%m-%d %H:%M:%S}"
        except FrameError as exc:
            return str(exc)
    if function == dlt.Function.RELAY and not is_reply and len(payload) >= 16:
        try:
            action = dlt.RelayAction(payload[8]).label
        except ValueError:
            action = f"action {payload[8]:02X}"
        try:
            expiry = f", valid until {dlt.decode_datetime6(payload[10:16]):%Y-%m-%d %H:%M:%S}"
        except FrameError:
            expiry = ""
        return f"{action}{expiry}"
    return ""


# --- Modbus ---------------------------------------------------------------------------------


def _registers(pdu: bytes) -> list[int]:
    return [int.from_bytes(pdu[i : i + 2], "big") for i in range(0, len(pdu) - 1, 2)]


def _register_list(values: list[int]) -> str:
    shown = ", ".join(f"0x{v:04X} ({v})" for v in values[:MAX_REGISTERS_SHOWN])
    return shown + (", …" if len(values) > MAX_REGISTERS_SHOWN else "")


def _span(start: int, count: int) -> str:
    if count == 1:
        return f"0x{start:04X}"
    return f"0x{start:04X}–0x{start + count - 1:04X} ({count})"


def _looks_like_mbap(data: bytes) -> bool:
    """A Modbus TCP frame: protocol id 0, a length that matches, a function we use, and not a
    valid RTU frame (whose CRC would be right)."""
    return (
        len(data) >= 8
        and data[2:4] == b"\x00\x00"
        and int.from_bytes(data[4:6]) == len(data) - 6
        and data[7] & 0x7F in MODBUS_FUNCTIONS
        and crc16(data[:-2]) != data[-2:]
    )


def describe_modbus(data: bytes, reply: bool) -> str:
    """An RTU frame (CRC checked) or, when it has a valid MBAP header, a Modbus TCP frame."""
    prefix = ""
    if _looks_like_mbap(data):
        prefix = f"MBAP transaction {int.from_bytes(data[:2])} · "
        unit, pdu = data[6], data[7:]
    else:
        if len(data) < 4:
            return f"Modbus frame of {len(data)} bytes is too short"
        expected = crc16(data[:-2])
        if data[-2:] != expected:
            return f"Modbus CRC error: CRC {hex_bytes(data[-2:])}, computed {hex_bytes(expected)}"
        unit, pdu = data[0], data[1:-2]
    if not pdu:
        return f"{prefix}unit {unit}: no function code"
    head = f"{prefix}unit {unit}{' (broadcast)' if unit == 0 else ''}"
    return f"{head} · {_modbus_pdu(pdu, reply)}"


def _modbus_pdu(pdu: bytes, reply: bool) -> str:
    function = pdu[0]
    base = function & 0x7F
    label = f"FC{base:02d} {MODBUS_FUNCTIONS.get(base, 'unknown function')}"
    body = pdu[1:]
    if function & 0x80:
        code = body[0] if body else 0
        return f"{label} exception: {exception_name(code)}"
    if base not in MODBUS_FUNCTIONS:
        return f"FC{function:02d} (not a function MeterDesk uses) {hex_bytes(body)}"
    words = _registers(body)
    if not reply:
        if base in (0x03, 0x04) and len(body) == 4:
            return f"{label} {_span(words[0], words[1])}"
        if base == 0x06 and len(body) == 4:
            return f"{label} 0x{words[0]:04X} = {_register_list(words[1:])}"
        if base == 0x10 and len(body) >= 5:
            values = _registers(body[5:])
            return f"{label} {_span(words[0], words[1])} = {_register_list(values)}"
        return f"{label}: {len(body)} data bytes do not fit the function"
    if base in (0x03, 0x04) and body and body[0] == len(body) - 1:
        values = _registers(body[1:])
        return f"{label} reply, {len(values)} register(s): {_register_list(values)}"
    if base == 0x06 and len(body) == 4:
        return f"{label} done: 0x{words[0]:04X} = {_register_list(words[1:])}"
    if base == 0x10 and len(body) == 4:
        return f"{label} done: {_span(words[0], words[1])}"
    return f"{label} reply: {len(body)} data bytes do not fit the function"


# --- CJ/T 188 -------------------------------------------------------------------------------


def describe_cjt188(data: bytes, reply: bool) -> str:
    try:
        frame = cjt.decode_frame(data, wildcards=not reply)  # requests may hold A digits
    except FrameError as exc:
        return f"CJ/T 188 frame not valid: {exc}"
    family = cjt.meter_family(frame.meter_type)
    kind = "error reply" if frame.is_error else ("reply" if frame.is_reply else "request")
    head = (
        f"type {frame.meter_type:02X} ({family}) · {frame.address} · {frame.control:02X} "
        f"{cjt.function_name(frame.control)} {kind}"
    )
    if len(frame.data) < 3:
        return head + (f" · data {hex_bytes(frame.data)}" if frame.data else "")
    high = cjt.decode_di(frame.data[:2], True)
    low = cjt.decode_di(frame.data[:2], False)
    di = low if low in CJT188_DIS and high not in CJT188_DIS else high
    text = f"{head}: DI {di:04X} {CJT188_DIS.get(di, '')}".rstrip()
    text += f", SER {frame.data[2]:02X}"
    payload = frame.data[3:]
    if di == cjt.DI_VALVE and not reply and payload[:1]:
        text += f", {VALVE_ACTIONS.get(payload[0], f'action {payload[0]:02X}')}"
    return text + (f" · data {hex_bytes(payload)}" if payload else "")
