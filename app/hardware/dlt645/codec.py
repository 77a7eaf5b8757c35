"""DL/T 645-2007 frames and values. Pure functions: bytes in, values out, no I/O.

Frame: ``FE``… (wake-up, any number) · ``68`` · address A0..A5 (BCD, least significant byte
first) · ``68`` · control · length L · data (each byte + 0x33 mod 256) · checksum · ``16``.
The checksum is the sum mod 256 of every byte from the first ``68`` to the last data byte.
Control byte: bit 7 reply, bit 6 error reply, bit 5 more frames follow, bits 0-4 function.

Every decoder here raises only our wire errors (``FrameError``, ``ChecksumError``,
``AddressMismatch``, ``ExceptionReply``) for bad bytes, whatever the bytes. Encoders raise
``ValueError`` for values a caller should not have passed (a 13-digit address, a negative
energy): those are programming or configuration mistakes, not wire faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import IntEnum

from app.hardware import bcd_frame
from app.hardware.bcd_frame import MAX_DATA as MAX_DATA  # L is one byte
from app.hardware.bcd_frame import PATTERN_DIGITS, START, bcd_byte, bcd_decode, bcd_encode
from app.hardware.bcd_frame import address_matches as address_matches
from app.hardware.errors import AddressMismatch, ExceptionReply, FrameError

OFFSET = 0x33
HEADER_BYTES = 10  # 68 A0..A5 68 C L
SHORTEST_FRAME = HEADER_BYTES + 2  # no data: the header, CS, 16
DEFAULT_WAKE_UP = 4  # FE bytes sent before each request

CONTROL_REPLY = 0x80
CONTROL_ERROR = 0x40
CONTROL_MORE = 0x20
FUNCTION_MASK = 0x1F

BROADCAST = "999999999999"
WILDCARD = "AAAAAAAAAAAA"
ADDRESS_DIGITS = 12


class Function(IntEnum):
    """Function codes (bits 0-4 of the control byte)."""

    BROADCAST_TIME = 0x08
    READ = 0x11
    READ_FOLLOW = 0x12
    READ_ADDRESS = 0x13
    WRITE = 0x14
    WRITE_ADDRESS = 0x15
    FREEZE = 0x16
    CHANGE_BAUD = 0x17
    CHANGE_PASSWORD = 0x18
    RELAY = 0x1C


class RelayAction(IntEnum):
    """N1 of the relay control (1C) command."""

    TRIP = 0x1A
    CLOSE_PERMIT = 0x1B  # the customer closes the relay by pressing the meter's button
    CLOSE_DIRECT = 0x1C
    ALARM_ON = 0x2A
    ALARM_OFF = 0x2B
    KEEP_POWER_ON = 0x3A
    KEEP_POWER_OFF = 0x3B

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


def action_label(n1: int) -> str:
    """How the frame log names N1 of a 1C command: the standard's name, or the byte."""
    try:
        return RelayAction(n1).label
    except ValueError:
        return f"action {n1:02X}"


_ACTION_LABELS = {
    RelayAction.TRIP: "trip (1A)",
    RelayAction.CLOSE_PERMIT: "close permitted (1B)",
    RelayAction.CLOSE_DIRECT: "direct close (1C)",
    RelayAction.ALARM_ON: "alarm on (2A)",
    RelayAction.ALARM_OFF: "alarm off (2B)",
    RelayAction.KEEP_POWER_ON: "keep power on (3A)",
    RelayAction.KEEP_POWER_OFF: "keep power off (3B)",
}

# Run status word 3 (DI 04000503, "operation" word), bit positions. Checked against:
# qiujianhong/task_1020 apps/app_base_acMeter/code/ac_common/ac_redef.h (METER_STATE3_BIT_TYPE:
# bit0 current period set, bits1-2 supply mode, bit3 programming allowed, bit4 relay state
# "0 通 1 断", bit5 time zone set, bit6 relay command state "0 通 1 断", bit7 pre-trip alarm,
# bits8-9 meter type 00 non-prepaid / 01 energy prepaid / 10 money prepaid, bit10 tariff set,
# bit11 step set); a DL/T 645-2007 protocol description (renrendoc.com/p-25811601.html) gives
# the same bit4 "继电器状态(0通,1断)"; a second code-index protocol description (XML
# dataItem 04000503) lists bit4 继电器状态 1=断 0=通.
RUN_STATUS_3_RELAY_OPEN_BIT = 4
RUN_STATUS_3_RELAY_COMMAND_OPEN_BIT = 6
RUN_STATUS_3_PRE_TRIP_ALARM_BIT = 7
RUN_STATUS_3_METER_TYPE_SHIFT = 8
METER_TYPES = {0: "not prepaid", 1: "energy prepaid", 2: "money prepaid", 3: "reserved"}

# Error word (ERR) of an error reply, bit by bit (DL/T 645-2007 table; the Java driver
# hstt.proto.mp07.Mp07 ErrList1 in the public code index lists the same eight bits).
ERROR_BITS = (
    "other error",
    "no data requested (the meter does not have this data identifier)",
    "password error or not authorised",
    "baud rate cannot be changed",
    "too many year time zones",
    "too many day time segments",
    "too many tariffs",
    "reserved bit 7",
)
ERR_OTHER = 0x01
ERR_NO_DATA = 0x02
ERR_PASSWORD = 0x04

# Two-byte control error status word that newer cost-control meters return for a refused 1C
# command (State Grid 2013/2014 requirement; firmware header in the public code index,
# union _FAY_CTL_RES_ERR "控制命令错误状态字").
RELAY_ERROR_BITS = (
    "meter suspended",
    "MAC check failed",
    "password error or not authorised",
    "identity authentication missing or timed out",
    "command expiry time invalid",
    "trip refused: keep power is on",
    "pre-trip refused: keep power is on",
    "pre-trip duration invalid",
    "pre-trip refused: already tripped",
)
RELAY_ERR_MAC = 0x0002
RELAY_ERR_PASSWORD = 0x0004
RELAY_ERR_IDENTITY = 0x0008


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. ``data`` has the 0x33 offset removed."""

    address: str  # 12 characters, most significant digit first; "A" digits are wildcards
    control: int
    data: bytes

    @property
    def function(self) -> int:
        return self.control & FUNCTION_MASK

    @property
    def is_reply(self) -> bool:
        return bool(self.control & CONTROL_REPLY)

    @property
    def is_error(self) -> bool:
        return bool(self.control & CONTROL_ERROR)

    @property
    def has_more(self) -> bool:
        return bool(self.control & CONTROL_MORE)


# --- addresses ----------------------------------------------------------------------------


def normalize_address(address: str) -> str:
    """A meter address as 12 digits (``"1"`` -> ``"000000000001"``). ValueError if it is not
    one: up to 12 decimal digits."""
    text = address.strip().replace(" ", "")
    if not text.isdigit() or not text.isascii() or len(text) > ADDRESS_DIGITS:
        raise ValueError(f"{address!r} is not a DL/T 645 address: use up to 12 decimal digits")
    return text.zfill(ADDRESS_DIGITS)


def encode_address(address: str) -> bytes:
    """Six address bytes, least significant first. ``address`` is 12 characters of 0-9 and
    ``A`` (wildcard digit), or up to 12 digits."""
    text = address.strip().upper()
    if len(text) < ADDRESS_DIGITS and text.isdigit():
        text = text.zfill(ADDRESS_DIGITS)
    if len(text) != ADDRESS_DIGITS or any(c not in PATTERN_DIGITS for c in text):
        raise ValueError(f"{address!r} is not a DL/T 645 address")
    return bcd_frame.digits_to_wire(text)


def is_meter_address(text: str) -> bool:
    return len(text) == ADDRESS_DIGITS and text.isdigit() and text.isascii()


# --- frames -------------------------------------------------------------------------------


def encode_frame(
    address: str, control: int, data: bytes = b"", *, wake_up: int = DEFAULT_WAKE_UP
) -> bytes:
    """A frame: the address and the second 68 as header fields, data with the 0x33 offset."""
    fields = encode_address(address) + bytes([START])
    return bcd_frame.encode_frame(
        fields, control, bytes((b + OFFSET) & 0xFF for b in data), wake_up=wake_up
    )


def frame_length(buffer: bytes) -> int | None:
    """Length of the frame at the start of ``buffer`` (wake-up bytes included); None while
    more bytes are needed. FrameError when the buffer cannot start a frame."""
    length = bcd_frame.frame_length(buffer, HEADER_BYTES)
    second = bcd_frame.wake_up_count(buffer) + 7
    if len(buffer) > second and buffer[second] != START:
        raise FrameError(f"expected 68 after the address, got {buffer[second]:02X}")
    return length


def decode_frame(raw: bytes) -> Frame:
    """Check and decode one frame (leading wake-up bytes allowed)."""
    body = bcd_frame.frame_body(raw, HEADER_BYTES)
    if body[7] != START:
        raise FrameError(f"expected 68 after the address, got {body[7]:02X}")
    data = bcd_frame.frame_data(body, HEADER_BYTES)
    return Frame(
        address=bcd_frame.digits_from_wire(body[1:7]),
        control=body[8],
        data=bytes((b - OFFSET) & 0xFF for b in data),
    )


# --- BCD values ---------------------------------------------------------------------------


def decode_number(raw: bytes, decimals: int, signed: bool) -> Decimal:
    """A BCD number (XXX.X, XX.XXXX...). With ``signed`` the top bit of the most significant
    byte is the sign (1 = negative), as DL/T 645 sends current, power and power factor."""
    if not raw:
        raise FrameError("no data bytes where a number was expected")
    negative = False
    if signed and raw[-1] & 0x80:
        negative = True
        raw = raw[:-1] + bytes([raw[-1] & 0x7F])
    magnitude = bcd_decode(raw)
    value = Decimal(magnitude).scaleb(-decimals)
    return -value if negative and magnitude else value


def encode_number(value: Decimal | float | int, length: int, decimals: int, signed: bool) -> bytes:
    """BCD of ``value`` rounded half-up to ``decimals``. ValueError if it does not fit."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    try:
        scaled = number.scaleb(decimals).to_integral_value(rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"{value!r} cannot be scaled") from None
    units = int(scaled)
    if units < 0 and not signed:
        raise ValueError(f"{value} is negative but the format has no sign")
    magnitude = abs(units)
    limit = 8 * 100**length // 10 if signed else 100**length  # sign bit takes the top digit's 8
    if magnitude >= limit:
        raise ValueError(f"{value} does not fit {length} bytes with {decimals} decimals")
    raw = bytearray(bcd_encode(magnitude, length))
    if units < 0:
        raw[-1] |= 0x80
    return bytes(raw)


def decode_word(raw: bytes) -> int:
    """A bit string (status word), least significant byte first."""
    if not raw:
        raise FrameError("no data bytes where a status word was expected")
    return int.from_bytes(raw, "little")


def encode_word(value: int, length: int) -> bytes:
    return value.to_bytes(length, "little")


def decode_run_status_3(word: int) -> dict[str, object]:
    """The named bits of run status word 3 (04000503)."""
    return {
        "run_status_word_3": word,
        "relay_open": bool(word >> RUN_STATUS_3_RELAY_OPEN_BIT & 1),
        "relay_command_open": bool(word >> RUN_STATUS_3_RELAY_COMMAND_OPEN_BIT & 1),
        "pre_trip_alarm": bool(word >> RUN_STATUS_3_PRE_TRIP_ALARM_BIT & 1),
        "meter_type": METER_TYPES[word >> RUN_STATUS_3_METER_TYPE_SHIFT & 3],
    }


# --- dates and times ----------------------------------------------------------------------


def _year(two_digits: int) -> int:
    return 2000 + two_digits


def _check_year(when: date) -> None:
    if not 2000 <= when.year <= 2099:
        raise ValueError(f"{when} is outside the years a DL/T 645 meter can hold (2000-2099)")


def decode_date(raw: bytes) -> date:
    """YYMMDDWW (sent WW DD MM YY); WW 0 = Sunday."""
    if len(raw) != 4:
        raise FrameError(f"a date has 4 bytes, not {len(raw)}")
    weekday, day, month, year = (bcd_byte(b) for b in raw)
    if weekday > 6:
        raise FrameError(f"weekday {weekday} is not 0-6")
    try:
        return date(_year(year), month, day)
    except ValueError:
        raise FrameError(f"{year:02d}-{month:02d}-{day:02d} is not a date") from None


def encode_date(day: date) -> bytes:
    _check_year(day)
    weekday = (day.weekday() + 1) % 7  # Python: Monday 0; DL/T 645: Sunday 0
    return bytes(bcd_encode(v, 1)[0] for v in (weekday, day.day, day.month, day.year % 100))


def decode_time(raw: bytes) -> time:
    """hhmmss (sent ss mm hh)."""
    if len(raw) != 3:
        raise FrameError(f"a time has 3 bytes, not {len(raw)}")
    second, minute, hour = (bcd_byte(b) for b in raw)
    try:
        return time(hour, minute, second)
    except ValueError:
        raise FrameError(f"{hour:02d}:{minute:02d}:{second:02d} is not a time") from None


def encode_time(moment: time) -> bytes:
    return bytes(bcd_encode(v, 1)[0] for v in (moment.second, moment.minute, moment.hour))


def encode_datetime6(when: datetime) -> bytes:
    """ss mm hh DD MM YY: broadcast time sync and the relay command's expiry."""
    _check_year(when)
    values = (when.second, when.minute, when.hour, when.day, when.month, when.year % 100)
    return bytes(bcd_encode(v, 1)[0] for v in values)


def decode_datetime6(raw: bytes) -> datetime:
    if len(raw) != 6:
        raise FrameError(f"a date and time has 6 bytes, not {len(raw)}")
    second, minute, hour, day, month, year = (bcd_byte(b) for b in raw)
    try:
        return datetime.combine(date(_year(year), month, day), time(hour, minute, second))
    except ValueError:
        raise FrameError(
            f"{year:02d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d} "
            "is not a date and time"
        ) from None


# --- credentials --------------------------------------------------------------------------


def _hex8(text: str, what: str) -> bytes:
    if len(text) != 8:
        raise ValueError(f"{what} {text!r} must be 8 hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} must be 8 hex digits") from None


def encode_password(password: str) -> bytes:
    """``"02123456"``: privilege level PA 02, password 123456 -> PA P0 P1 P2 = 02 56 34 12."""
    raw = _hex8(password, "password")
    return raw[:1] + raw[:0:-1]


def encode_operator(code: str) -> bytes:
    """``"12345678"`` -> C0..C3 = 78 56 34 12 (least significant first)."""
    return _hex8(code, "operator code")[::-1]


# --- requests (master side) ---------------------------------------------------------------


def di_bytes(di: int) -> bytes:
    """A data identifier as sent: DI0 first."""
    return di.to_bytes(4, "little")


def read_request(address: str, di: int, *, wake_up: int = DEFAULT_WAKE_UP) -> bytes:
    return encode_frame(address, Function.READ, di_bytes(di), wake_up=wake_up)


def read_follow_request(
    address: str, di: int, sequence: int, *, wake_up: int = DEFAULT_WAKE_UP
) -> bytes:
    return encode_frame(
        address, Function.READ_FOLLOW, di_bytes(di) + bytes([sequence & 0xFF]), wake_up=wake_up
    )


def read_address_request(address: str = WILDCARD, *, wake_up: int = DEFAULT_WAKE_UP) -> bytes:
    """Read address (13) to ``address``: the wildcard AA…AA (any meter), a pattern with some
    A digits (the meters it selects), or a full address."""
    return encode_frame(address, Function.READ_ADDRESS, wake_up=wake_up)


def write_request(
    address: str,
    di: int,
    password: str,
    operator: str,
    value: bytes,
    *,
    wake_up: int = DEFAULT_WAKE_UP,
) -> bytes:
    data = di_bytes(di) + encode_password(password) + encode_operator(operator) + value
    return encode_frame(address, Function.WRITE, data, wake_up=wake_up)


def relay_request(
    address: str,
    password: str,
    operator: str,
    action: int,
    expiry: datetime,
    *,
    wake_up: int = DEFAULT_WAKE_UP,
) -> bytes:
    """1C: PA P0 P1 P2 · C0..C3 · N1 action · N2 reserved 00 · N3..N8 expiry ss mm hh DD MM YY.
    ``action`` is a ``RelayAction``, or a vendor's own N1 byte named in a profile."""
    if not 0 <= action <= 0xFF:
        raise ValueError(f"relay control action {action} is not one byte")
    data = (
        encode_password(password)
        + encode_operator(operator)
        + bytes([action, 0x00])
        + encode_datetime6(expiry)
    )
    return encode_frame(address, Function.RELAY, data, wake_up=wake_up)


def broadcast_time_request(when: datetime, *, wake_up: int = DEFAULT_WAKE_UP) -> bytes:
    return encode_frame(BROADCAST, Function.BROADCAST_TIME, encode_datetime6(when), wake_up=wake_up)


# --- replies ------------------------------------------------------------------------------


def reply_frame(
    address: str, function: int, data: bytes = b"", *, more: bool = False, wake_up: int = 0
) -> bytes:
    control = CONTROL_REPLY | function | (CONTROL_MORE if more else 0)
    return encode_frame(address, control, data, wake_up=wake_up)


def error_reply_frame(address: str, function: int, error: bytes, *, wake_up: int = 0) -> bytes:
    return encode_frame(address, CONTROL_REPLY | CONTROL_ERROR | function, error, wake_up=wake_up)


def describe_error(data: bytes, *, relay: bool = False) -> str:
    """What an error reply's error word says, in words."""
    if not data:
        return "error reply without an error word"
    word = int.from_bytes(data, "little")
    names = RELAY_ERROR_BITS if relay and len(data) >= 2 else ERROR_BITS
    reasons = [name for bit, name in enumerate(names) if word >> bit & 1]
    reasons += [f"bit {bit}" for bit in range(len(names), 8 * len(data)) if word >> bit & 1]
    return ", ".join(reasons) if reasons else f"error word {data[::-1].hex().upper()}"


def demands_encryption(data: bytes) -> bool:
    """Does a relay error word say the meter wants encrypted/authenticated commands?"""
    if len(data) < 2:
        return False
    word = int.from_bytes(data, "little")
    return bool(word & (RELAY_ERR_MAC | RELAY_ERR_IDENTITY))


def check_reply_header(frame: Frame, *, function: int, address: str | None) -> Frame:
    """Is this the reply to our request (direction, function, address)? Error replies pass."""
    if not frame.is_reply:
        raise FrameError(f"expected a reply, got a request (control {frame.control:02X})")
    if frame.function != function:
        raise FrameError(
            f"reply is for function {frame.function:02X}, the request was {function:02X}"
        )
    if address is not None and frame.address != address:
        raise AddressMismatch(f"reply from address {frame.address}, asked {address}")
    return frame


def check_reply(frame: Frame, *, function: int, address: str | None) -> Frame:
    """Like ``check_reply_header``; an error reply raises ExceptionReply with its reasons."""
    check_reply_header(frame, function=function, address=address)
    if frame.is_error:
        code = int.from_bytes(frame.data, "little") if frame.data else None
        relay = function == Function.RELAY
        raise ExceptionReply(
            f"meter {frame.address} answered with an error: "
            + describe_error(frame.data, relay=relay),
            code,
        )
    return frame


def parse_read_reply(frame: Frame, di: int) -> tuple[bytes, bool]:
    """The data after the DI of a read reply (91/B1), and whether more frames follow."""
    if len(frame.data) < 4:
        raise FrameError(f"read reply with {len(frame.data)} data bytes has no DI")
    got = int.from_bytes(frame.data[:4], "little")
    if got != di:
        raise FrameError(f"reply is for DI {got:08X}, asked {di:08X}")
    return frame.data[4:], frame.has_more


def parse_follow_reply(frame: Frame, di: int, sequence: int) -> tuple[bytes, bool]:
    """A follow-up reply (92/B2): DI · data · SEQ."""
    if len(frame.data) < 5:
        raise FrameError(f"follow-up reply with {len(frame.data)} data bytes has no DI and SEQ")
    got = int.from_bytes(frame.data[:4], "little")
    if got != di:
        raise FrameError(f"follow-up reply is for DI {got:08X}, asked {di:08X}")
    if frame.data[-1] != sequence & 0xFF:
        raise FrameError(f"follow-up reply has sequence {frame.data[-1]}, asked {sequence}")
    return frame.data[4:-1], frame.has_more


def parse_address_reply(frame: Frame) -> str:
    """The address in a read-address reply (93): six BCD bytes, least significant first."""
    if len(frame.data) != 6:
        raise FrameError(f"address reply has {len(frame.data)} data bytes, not 6")
    address = bcd_frame.digits_from_wire(frame.data)
    if not is_meter_address(address):
        raise FrameError(f"address reply {address} is not 12 decimal digits")
    return address
