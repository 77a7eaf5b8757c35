"""CJ/T 188 frames (water, gas and heat meters): pure encoding and decoding, no I/O.

A frame on the wire::

    FE FE …   68   T   A0 … A6   C   L   DI DI SER payload   CS   16
    wake-up  start type address ctrl len  data (L bytes)     sum  end

- ``FE`` wake-up bytes: a master sends a few; a decoder accepts any number (or none).
- ``T`` meter type: 10 cold water, 11 hot water, 12 drinking water, 13 reclaimed water,
  20 heat, 21 cooling, 30 gas; ``AA`` is the wildcard a master sends when it does not know.
- address: 7 bytes BCD, least significant byte first; we write it as 14 decimal digits, most
  significant first. ``AA`` (7 times) is the wildcard (read address of the one meter on the line);
  a request may also hold single ``A`` wildcard digits (``AAAAAAAAAAAA07``: every meter whose
  address ends in 07), as the bus scan's search asks.
- ``C`` control: bit 7 set in replies, bit 6 set in error replies, bits 0-5 the function
  (01 read data, 03 read address, 04 write data, 09 read key version, 15 write address,
  16 write motor-sync data). Some vendors switch their valve with their own function (2A).
- checksum: sum mod 256 of every byte from ``68`` to the last data byte. No +0x33 offset.
- Values are BCD, least significant byte first. Flows are XXXXXX.XX (4 bytes) followed by a
  unit byte; the real time is YYYYMMDDhhmmss sent seconds first (ss mm hh DD MM YY CC).

Sources checked, all public code (none of them is the standard's own text):
- KingDa NB water-meter firmware, meter side (CaiYongCode/KingDa-NBWaterMeterCode-BC95,
  USER/inc/CJT-188-2004.h, USER/src/CJT-188-2004.c): control codes 01/81/C1, 09/89/C9,
  03/83/C3, 04/84/C4, 15/95/D5, 16/96/D6; DIs 901F, D120-D12B, 8102-8106, 810A, A010-A019
  (A015 standard time, A017 valve, A018 address); valve codes 55 open, 99 close, AA exercise,
  77 half open; the unit table; the 901F layout; the status word (valve in bits 0-1 of the first
  status byte, 00 open / 01 closed / 11 abnormal, bit 2 low battery); the time sent seconds
  first with the century byte last; write replies carry DI + SER (+ status for the valve).
- xijunzhou/sdqr_energy_node_class-20180705 Src/meter/cj188.h (a concentrator, master side):
  the same control codes and 901F offsets (water/gas and heat), DI sent ``1F 90``, but the
  status masks valve = 0xC0 (0x40 closed, 0xC0 abnormal) and low battery = 0x20, i.e. bits 7-6
  and 5 as MeterDesk's DOMAIN.md has them. Hence the profile option ``status_layout``.
- NG Gateway's CJ/T 188 driver documentation (ng-driver-cjt188): 901F fields, DI sent low byte
  first (``1F 90``), status D0 valve closed / D1 valve abnormal / D2 low battery, time
  "SS mm hh DD MM YY CC", meter type ranges 10-19 water, 20-29 heat, 30-39 gas.
- Fox-Edge CJT188 Java decoders (cn.foxtech.device.protocol.v1.cjt188): sample frames, among
  them ``68`` + 8 x ``AA`` + ``03 03 81 0A 00 49 16`` (read address) and
  ``… 01 03 1F 90 00 39 16``; the unit table (29 L, 2C m³, 32 L/h, 35 m³/h); a vendor
  valve function 2A with DI A0 17 (its sample replies carry status 00 FF and 01 FF).
- luoyikuan cjt188 (io.github.luoyikuan.cjt188.Frame2004): DI sent ``90 1F``, valve via 2A /
  A0 17 / 55 or 99 — but it reads status bits 1-0 = 10 as closed; a third variant, unsupported.
- aixiwang/python_cjt188: the checksum range, read address with type and address AA, the
  901F reply length 0x16.
The sources disagree on the DI byte order and the status bits, so both are profile options.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from app.hardware import bcd_frame
from app.hardware.bcd_frame import DECIMAL_DIGITS, PATTERN_DIGITS
from app.hardware.bcd_frame import address_matches as address_matches
from app.hardware.bcd_frame import bcd_decode as bcd_decode
from app.hardware.bcd_frame import bcd_encode as bcd_encode
from app.hardware.errors import AddressMismatch, CommandRefused, ExceptionReply, FrameError

HEADER_LEN = 11  # 68, T, 7 address bytes, C, L
SHORTEST_FRAME = HEADER_LEN + 2  # no data: the header, CS, 16

# Control byte
REPLY_BIT = 0x80
ERROR_BIT = 0x40
FUNCTION_MASK = 0x3F
READ_DATA = 0x01
READ_ADDRESS = 0x03
WRITE_DATA = 0x04
READ_KEY_VERSION = 0x09
WRITE_ADDRESS = 0x15
WRITE_SYNC_DATA = 0x16  # 机电同步: set the register to the mechanical counter
FUNCTION_NAMES = {
    READ_DATA: "read data",
    READ_ADDRESS: "read address",
    WRITE_DATA: "write data",
    READ_KEY_VERSION: "read key version",
    WRITE_ADDRESS: "write address",
    WRITE_SYNC_DATA: "write motor-sync data",
}

# Data identifiers (as written in manuals, high byte first)
DI_METER_DATA = 0x901F  # cumulative flow, settlement-day flow, real time, status
DI_KEY_VERSION = 0x8106
DI_ADDRESS = 0x810A
DI_REAL_TIME = 0xA015
DI_VALVE = 0xA017
DI_WRITE_ADDRESS = 0xA018

# Meter types
COLD_WATER = 0x10
HOT_WATER = 0x11
HEAT = 0x20
COOLING = 0x21
GAS = 0x30
ANY_TYPE = 0xAA

WILDCARD = "AA" * 7  # the address a master uses when it does not know it
ADDRESS_DIGITS = 14

# Unit codes (KingDa CJT_188_UnitType, Fox-Edge CJT188Unit agree)
UNIT_NAMES = {
    0x01: "J",
    0x02: "Wh",
    0x05: "kWh",
    0x08: "MWh",
    0x0A: "MWh×100",
    0x0B: "kJ",
    0x0E: "MJ",
    0x11: "GJ",
    0x13: "GJ×100",
    0x14: "W",
    0x17: "kW",
    0x1A: "MW",
    0x29: "L",
    0x2C: "m³",
    0x32: "L/h",
    0x35: "m³/h",
}
UNIT_LITRE = 0x29
UNIT_M3 = 0x2C
UNIT_KWH = 0x05
UNIT_KW = 0x17
UNIT_M3_PER_H = 0x35
_VOLUME_PER_M3 = {UNIT_LITRE: 1000, UNIT_M3: 1}  # how many of the unit make one m³


def meter_family(meter_type: int) -> str:
    """water (10-19), heat (20-29), gas (30-39) or other (CJ/T 188-2018 ranges)."""
    if 0x10 <= meter_type <= 0x19:
        return "water"
    if 0x20 <= meter_type <= 0x29:
        return "heat"
    if 0x30 <= meter_type <= 0x39:
        return "gas"
    return "other"


def function_name(control: int) -> str:
    return FUNCTION_NAMES.get(control & FUNCTION_MASK, f"function {control & FUNCTION_MASK:02X}")


# --- addresses and DIs --------------------------------------------------------------------


def encode_address(address: str) -> bytes:
    """14 decimal digits, the wildcard, or a pattern of 14 digits and ``A`` wildcard digits
    (a request to the meters it selects) to the 7 wire bytes, least significant first."""
    text = address.upper()
    if len(text) != ADDRESS_DIGITS or any(c not in PATTERN_DIGITS for c in text):
        raise ValueError(f"a CJ/T 188 address is 14 decimal digits, not {address!r}")
    return bcd_frame.digits_to_wire(text)


def decode_address(raw: bytes, *, wildcards: bool = False) -> str:
    """The 7 wire bytes to 14 digits, most significant first; WILDCARD for 7 x AA. With
    ``wildcards`` (a request's address) ``A`` digits are kept as wildcards; otherwise an
    address that is not all BCD digits is a FrameError."""
    if len(raw) != 7:
        raise FrameError(f"an address has 7 bytes, not {len(raw)}")
    if raw == b"\xaa" * 7:
        return WILDCARD
    address = bcd_frame.digits_from_wire(raw)
    allowed = PATTERN_DIGITS if wildcards else DECIMAL_DIGITS
    if any(c not in allowed for c in address):
        raise FrameError(f"address {raw.hex(' ').upper()} is not BCD")
    return address


def normalise_address(address: str) -> str:
    """An address as the driver accepts it: digits padded to 14 (``91113480`` is fine)."""
    text = address.strip()
    if text.upper() == WILDCARD:
        return WILDCARD
    if not text.isdecimal() or not text.isascii() or len(text) > ADDRESS_DIGITS:
        raise ValueError(f"a CJ/T 188 address is up to 14 decimal digits, not {address!r}")
    return text.zfill(ADDRESS_DIGITS)


def encode_di(di: int, high_first: bool) -> bytes:
    raw = di.to_bytes(2, "big")
    return raw if high_first else raw[::-1]


def decode_di(raw: bytes, high_first: bool) -> int:
    return int.from_bytes(raw[:2], "big" if high_first else "little")


# --- frames -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    meter_type: int
    address: str  # 14 digits or WILDCARD
    control: int
    data: bytes

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY_BIT)

    @property
    def is_error(self) -> bool:
        return bool(self.control & ERROR_BIT)

    @property
    def function(self) -> int:
        return self.control & FUNCTION_MASK


def encode_frame(
    meter_type: int, address: str, control: int, data: bytes, *, wake_up: int = 0
) -> bytes:
    """A complete frame with ``wake_up`` FE bytes in front: meter type and address as the
    header fields, data as given."""
    if not 0 <= meter_type <= 0xFF:
        raise ValueError(f"meter type {meter_type} is not a single byte")
    fields = bytes([meter_type]) + encode_address(address)
    return bcd_frame.encode_frame(fields, control, data, wake_up=wake_up)


def frame_length(buffer: bytes) -> int | None:
    """Length of the frame at the start of ``buffer`` (wake-up bytes included); None while
    more bytes are needed. FrameError if the buffer cannot start a frame."""
    return bcd_frame.frame_length(buffer, HEADER_LEN)


def decode_frame(raw: bytes, *, wildcards: bool = False) -> Frame:
    """One whole frame (wake-up bytes allowed in front) to its fields. ``wildcards``: the frame
    is a request, whose address may hold A wildcard digits.
    FrameError for a malformed frame, ChecksumError for a wrong checksum."""
    body = bcd_frame.frame_body(raw, HEADER_LEN)
    data = bcd_frame.frame_data(body, HEADER_LEN)
    return Frame(
        meter_type=body[1],
        address=decode_address(body[2:9], wildcards=wildcards),
        control=body[9],
        data=data,
    )


def split_data(frame: Frame, high_first: bool) -> tuple[int, int, bytes]:
    """DI, SER and the payload after them."""
    if len(frame.data) < 3:
        raise FrameError(f"{len(frame.data)} data bytes: too few for DI and SER")
    return decode_di(frame.data[:2], high_first), frame.data[2], frame.data[3:]


def build_request(
    meter_type: int,
    address: str,
    control: int,
    di: int,
    ser: int,
    payload: bytes = b"",
    *,
    high_first: bool = True,
    wake_up: int = 0,
) -> bytes:
    data = encode_di(di, high_first) + bytes([ser & 0xFF]) + payload
    return encode_frame(meter_type, address, control, data, wake_up=wake_up)


def build_reply(
    request: Frame,
    meter_type: int,
    address: str,
    payload: bytes,
    *,
    wake_up: int = 0,
) -> bytes:
    """A normal reply: the request's DI and SER, then ``payload``."""
    data = request.data[:3] + payload
    return encode_frame(meter_type, address, request.function | REPLY_BIT, data, wake_up=wake_up)


def build_error_reply(
    request: Frame, meter_type: int, address: str, status: bytes, *, wake_up: int = 0
) -> bytes:
    """An error reply: SER and the status word (KingDa's CJT8_188_ErrACK_Struct)."""
    ser = request.data[2:3] or b"\x00"
    control = request.function | REPLY_BIT | ERROR_BIT
    return encode_frame(meter_type, address, control, ser + status, wake_up=wake_up)


def check_reply(
    frame: Frame,
    *,
    function: int,
    address: str,
    di: int,
    ser: int | None,
    high_first: bool,
    what: str,
) -> bytes:
    """The payload of a reply to a request (after DI and SER), or the fault it shows.

    ``address`` WILDCARD accepts any address. ``ser`` None skips the SER check. An error reply
    to a write raises CommandRefused, to anything else ExceptionReply; ``what`` names the request
    in plain words for the message ("read of DI 901F", "valve close").
    """
    if address != WILDCARD and frame.address != address:
        raise AddressMismatch(f"reply came from {frame.address}, not from {address}")
    if not frame.is_reply or frame.function != function:
        raise FrameError(
            f"control {frame.control:02X} does not answer a {function_name(function)} request"
        )
    if frame.is_error:
        code = frame.data[-2] | frame.data[-1] << 8 if len(frame.data) >= 3 else None
        status = f", status {code:04X}" if code is not None else ""
        message = (
            f"meter {frame.address} refused the {what} (error reply {frame.control:02X}{status})"
        )
        if function in (READ_DATA, READ_ADDRESS, READ_KEY_VERSION):
            raise ExceptionReply(message, code)
        raise CommandRefused(message, code)
    got_di, got_ser, payload = split_data(frame, high_first)
    if got_di != di:
        raise FrameError(f"reply carries DI {got_di:04X}, not {di:04X}")
    if ser is not None and got_ser != ser & 0xFF:
        raise FrameError(f"reply carries SER {got_ser:02X}, not {ser & 0xFF:02X} (a stale reply?)")
    return payload


# --- values -------------------------------------------------------------------------------


def encode_time(when: datetime) -> bytes:
    """A naive site-local time to 7 BCD bytes: ss mm hh DD MM YY CC."""
    if not 1 <= when.year <= 9999:
        raise ValueError(f"year {when.year} does not fit")
    fields = (when.second, when.minute, when.hour, when.day, when.month)
    return b"".join(bcd_encode(v, 1) for v in fields) + bcd_encode(when.year, 2)


def decode_time(raw: bytes) -> datetime:
    """7 BCD bytes (ss mm hh DD MM YY CC) to a naive datetime; FrameError if not a time."""
    if len(raw) != 7:
        raise FrameError(f"a time has 7 bytes, not {len(raw)}")
    second, minute, hour, day, month = (bcd_decode(raw[i : i + 1]) for i in range(5))
    year = bcd_decode(raw[5:7])
    try:
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - meter-local
    except ValueError:
        raise FrameError(f"{raw.hex(' ').upper()} is not a valid time") from None


@dataclass(frozen=True, slots=True)
class Flow:
    """A BCD quantity with two decimals and its unit code."""

    hundredths: int
    unit: int

    @property
    def unit_name(self) -> str:
        return UNIT_NAMES.get(self.unit, f"unit {self.unit:02X}")

    @property
    def m3(self) -> float | None:
        """The volume in m³ as a float; None if the unit is not a volume (L/h, kWh...)."""
        volume = self.volume_m3
        return None if volume is None else float(volume)

    @property
    def volume_m3(self) -> Decimal | None:
        """The volume in m³, exact; None if the unit is not a volume."""
        per_m3 = _VOLUME_PER_M3.get(self.unit)
        if per_m3 is None:
            return None
        return Decimal(self.hundredths).scaleb(-2) / per_m3

    def encode(self) -> bytes:
        return bcd_encode(self.hundredths, 4) + bytes([self.unit])

    @classmethod
    def decode(cls, raw: bytes) -> Flow:
        if len(raw) != 5:
            raise FrameError(f"a flow has 5 bytes, not {len(raw)}")
        return cls(bcd_decode(raw[:4]), raw[4])


class Valve(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FAULT = "fault"


# Where the valve bits and the low-battery bit sit in the first status byte:
# low_bits: CJ/T 188-2004 as KingDa and NG Gateway read it (valve D1-D0, battery D2);
# high_bits: as xijunzhou's concentrator and DOMAIN.md read it (valve D7-D6, battery D5).
STATUS_LAYOUTS = {"low_bits": (0, 2), "high_bits": (6, 5)}
_VALVE_OF_BITS = {0b00: Valve.OPEN, 0b01: Valve.CLOSED, 0b10: Valve.FAULT, 0b11: Valve.FAULT}
_BITS_OF_VALVE = {Valve.OPEN: 0b00, Valve.CLOSED: 0b01, Valve.FAULT: 0b11}


@dataclass(frozen=True, slots=True)
class Status:
    """The two status bytes ST1 ST2 (ST2 and the other ST1 bits are vendor-defined)."""

    raw: bytes
    valve: Valve
    low_battery: bool

    @property
    def word(self) -> int:
        return int.from_bytes(self.raw, "little")

    def as_dict(self) -> dict[str, object]:
        return {
            "status_word": f"{self.word:04X}",
            "valve": str(self.valve),
            "valve_fault": self.valve is Valve.FAULT,
            "low_battery": self.low_battery,
        }


def decode_status(raw: bytes, layout: str = "low_bits") -> Status:
    if len(raw) != 2:
        raise FrameError(f"a status has 2 bytes, not {len(raw)}")
    valve_shift, battery_bit = STATUS_LAYOUTS[layout]
    bits = raw[0] >> valve_shift & 0b11
    # 10 is not defined by the sources that agree (KingDa lists 00, 01, 11; NG Gateway reads
    # D1 as "valve abnormal"), so it counts as a fault.
    return Status(bytes(raw), _VALVE_OF_BITS[bits], bool(raw[0] >> battery_bit & 1))


def encode_status(
    valve: Valve, low_battery: bool = False, layout: str = "low_bits", vendor: int = 0
) -> bytes:
    valve_shift, battery_bit = STATUS_LAYOUTS[layout]
    first = _BITS_OF_VALVE[valve] << valve_shift | int(low_battery) << battery_bit
    return bytes([first, vendor & 0xFF])


@dataclass(frozen=True, slots=True)
class MeterData:
    """The reply to DI 901F."""

    flow: Flow  # current cumulative flow (water, gas) or cumulative flow (heat)
    settlement: Flow | None  # settlement-day cumulative flow (water, gas)
    meter_time: datetime | None  # None when the meter's clock field is not a valid time
    time_raw: bytes
    status: Status


# 901F payload after DI and SER. Water and gas: flow 5, settlement flow 5, time 7, status 2.
# Heat: settlement heat 5, current heat 5, heat power 5, flow rate 5, cumulative flow 5,
# supply temperature 3, return temperature 3, working hours 3, time 7, status 2
# (xijunzhou cj188.h HEAT_* offsets; NG Gateway 901F heat schema).
WATER_DATA_LEN = 19
HEAT_DATA_LEN = 43


def decode_meter_data(payload: bytes, meter_type: int, layout: str = "low_bits") -> MeterData:
    """The 901F payload (after DI and SER). Trailing vendor bytes are ignored."""
    heat = meter_family(meter_type) == "heat"
    need = HEAT_DATA_LEN if heat else WATER_DATA_LEN
    if len(payload) < need:
        kind = "heat" if heat else "water/gas"
        raise FrameError(f"901F {kind} data has {len(payload)} bytes, need {need}")
    if heat:
        flow, settlement, at = Flow.decode(payload[20:25]), None, 34
    else:
        flow, settlement, at = Flow.decode(payload[0:5]), Flow.decode(payload[5:10]), 10
    time_raw = bytes(payload[at : at + 7])
    try:
        meter_time: datetime | None = decode_time(time_raw)
    except FrameError:
        meter_time = None
    return MeterData(
        flow, settlement, meter_time, time_raw, decode_status(payload[at + 7 : at + 9], layout)
    )


def encode_meter_data(
    flow: Flow,
    settlement: Flow,
    meter_time: datetime,
    status: bytes,
    meter_type: int,
) -> bytes:
    """The 901F payload a meter of ``meter_type`` sends (simulator side)."""
    tail = encode_time(meter_time) + status
    if meter_family(meter_type) != "heat":
        return flow.encode() + settlement.encode() + tail
    zero_heat = Flow(0, UNIT_KWH).encode()
    return (
        zero_heat  # settlement-day heat
        + zero_heat  # current heat
        + Flow(0, UNIT_KW).encode()  # heat power
        + Flow(0, UNIT_M3_PER_H).encode()  # flow rate
        + flow.encode()  # cumulative flow
        + bcd_encode(0, 3) * 3  # supply and return temperature, working hours
        + tail
    )
