"""The one module of MeterDesk that imports pymodbus.

pymodbus changes its API between minor releases (it is pinned in pyproject.toml), so everything
we take from it passes through here: its RTU and socket (MBAP) framers build request and reply
frames from its PDU classes, its CRC checks RTU frames, its PDU decoder reads replies, and its
frame-size rules tell how long a frame will be. Transport (bytes on the wire, timeouts, the silent
gap) is ours: ``app.hardware.link.Link``.

Two framings, chosen by the caller:
- ``rtu_*``: Modbus RTU on a serial line (unit id, PDU, CRC-16 low byte first);
- ``tcp_*``: Modbus TCP through a gateway (MBAP header: transaction id, protocol 0, length,
  unit id; no CRC).

Decoders raise only ``app.hardware.errors`` faults (``FrameError`` and its subclasses) for bad
bytes; an exception reply is not an error here but a ``Reply`` with ``exception_code`` set, so
the caller decides whether it is a failed read or a refused command.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
    WriteMultipleRegistersRequest,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
)

from app.hardware.addresses import MODBUS_MAX_UNIT
from app.hardware.errors import AddressMismatch, ChecksumError, FrameError

READ_HOLDING = 0x03
READ_INPUT = 0x04
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10
READ_FUNCTIONS = (READ_HOLDING, READ_INPUT)
WRITE_FUNCTIONS = (WRITE_SINGLE, WRITE_MULTIPLE)
FUNCTIONS = (*READ_FUNCTIONS, *WRITE_FUNCTIONS)
MAX_READ_COUNT = 125  # registers in one FC03/FC04 reply (250 data bytes)
MAX_WRITE_COUNT = 123  # registers in one FC16 request
RTU_SHORTEST_REPLY = 5  # unit, function | 0x80, exception code, CRC (2)
TCP_SHORTEST_REPLY = 9  # MBAP header, unit, function | 0x80, exception code
MBAP_HEADER = 6  # transaction id, protocol id, length; the length counts the unit id onwards

# Modbus exception codes, named as operators and vendor manuals name them.
EXCEPTION_NAMES = {
    0x01: "illegal function",
    0x02: "illegal data address",
    0x03: "illegal data value",
    0x04: "server device failure",
    0x05: "acknowledge (busy with a long command)",
    0x06: "server device busy",
    0x07: "negative acknowledge",
    0x08: "memory parity error",
    0x0A: "gateway path unavailable",
    0x0B: "gateway target device failed to respond",
}

_CLIENT_DECODER = DecodePDU(is_server=False)
_SERVER_DECODER = DecodePDU(is_server=True)
_RTU = FramerRTU(_CLIENT_DECODER)
_MBAP = FramerSocket(_CLIENT_DECODER)


def exception_name(code: int) -> str:
    """``"illegal data address (exception 02)"``: what an operator reads in a message."""
    return f"{EXCEPTION_NAMES.get(code, 'unknown exception')} (exception {code:02X})"


@dataclass(frozen=True, slots=True)
class Request:
    """One Modbus request: read ``count`` registers at ``address`` (FC03/FC04), or write
    ``values`` from ``address`` (FC06: exactly one value; FC16: one or more)."""

    unit: int
    function: int
    address: int
    count: int = 0
    values: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.unit <= 255:
            raise ValueError(f"unit id {self.unit} is outside 0-255")
        if not 0 <= self.address <= 0xFFFF:
            raise ValueError(f"register address {self.address} is outside 0-65535")
        if any(not 0 <= value <= 0xFFFF for value in self.values):
            raise ValueError(f"register values {self.values} must each be 0-65535")
        if self.function in READ_FUNCTIONS:
            if not 1 <= self.count <= MAX_READ_COUNT or self.values:
                raise ValueError(f"a read asks for 1 to {MAX_READ_COUNT} registers, not {self}")
        elif self.function == WRITE_SINGLE:
            if len(self.values) != 1:
                raise ValueError("FC06 writes exactly one register")
        elif self.function == WRITE_MULTIPLE:
            if not 1 <= len(self.values) <= MAX_WRITE_COUNT:
                raise ValueError(f"FC16 writes 1 to {MAX_WRITE_COUNT} registers")
        else:
            raise ValueError(f"function {self.function} is not one of 3, 4, 6, 16")
        if self.address + self.span > 0x10000:
            raise ValueError("the registers run past address 65535")

    @property
    def span(self) -> int:
        """How many registers the request touches."""
        return self.count if self.function in READ_FUNCTIONS else len(self.values)

    def describe(self) -> str:
        """``FC03 0x000A+2``, for frame logs and error messages."""
        return f"FC{self.function:02d} 0x{self.address:04X}+{self.span}"


@dataclass(frozen=True, slots=True)
class Reply:
    """A checked reply: the registers read, or the write acknowledged, or an exception code."""

    unit: int
    function: int  # the function asked for (without the exception bit)
    registers: tuple[int, ...] = ()
    exception_code: int | None = None

    @property
    def refused(self) -> bool:
        return self.exception_code is not None


# --- building requests (master side) ---------------------------------------------------------


def _request_pdu(request: Request, transaction_id: int = 0) -> ModbusPDU:
    unit, tid, address = request.unit, transaction_id, request.address
    if request.function == READ_HOLDING:
        return ReadHoldingRegistersRequest(unit, tid, address, count=request.count)
    if request.function == READ_INPUT:
        return ReadInputRegistersRequest(unit, tid, address, count=request.count)
    registers = list(request.values)
    if request.function == WRITE_SINGLE:
        return WriteSingleRegisterRequest(unit, tid, address, registers=registers)
    return WriteMultipleRegistersRequest(unit, tid, address, registers=registers)


def rtu_encode_request(request: Request) -> bytes:
    """The RTU frame of a request: unit, PDU, CRC."""
    return _RTU.buildFrame(_request_pdu(request))


def tcp_encode_request(request: Request, transaction_id: int) -> bytes:
    """The Modbus TCP frame of a request: MBAP header (``transaction_id``, protocol 0, length,
    unit) and PDU."""
    if not 0 <= transaction_id <= 0xFFFF:
        raise ValueError(f"transaction id {transaction_id} is outside 0-65535")
    return _MBAP.buildFrame(_request_pdu(request, transaction_id))


def crc16(data: bytes) -> bytes:
    """The Modbus CRC-16 of ``data`` as sent on the wire (low byte first)."""
    return FramerRTU.compute_CRC(data).to_bytes(2, "big")


# --- frame lengths ---------------------------------------------------------------------------


def rtu_reply_length(buffer: bytes) -> int | None:
    """Length of the RTU reply at the start of ``buffer``; None while more bytes are needed.
    FrameError when the bytes cannot start a reply to one of our requests."""
    if len(buffer) < 2:
        return None
    function = buffer[1]
    if (function & 0x7F) not in FUNCTIONS:
        raise FrameError(f"reply with function 0x{function:02X}, which we never ask for")
    pdu_class = _CLIENT_DECODER.lookupPduClass(buffer)
    if pdu_class is None:  # pragma: no cover - every function above is registered in pymodbus
        raise FrameError(f"reply with function 0x{function:02X} has no known layout")
    size = pdu_class.calculateRtuFrameSize(buffer)
    return size or None


def rtu_request_length(buffer: bytes) -> int | None:
    """Length of the RTU request at the start of ``buffer`` (simulator side)."""
    if len(buffer) < 2:
        return None
    unit, function = buffer[0], buffer[1]
    if unit > MODBUS_MAX_UNIT:
        raise FrameError(f"unit id {unit} is beyond {MODBUS_MAX_UNIT}")
    if function not in FUNCTIONS:
        raise FrameError(f"request with function 0x{function:02X}, which we do not serve")
    pdu_class = _SERVER_DECODER.lookupPduClass(buffer)
    if pdu_class is None:  # pragma: no cover - every function above is registered in pymodbus
        raise FrameError(f"request with function 0x{function:02X} has no known layout")
    size = pdu_class.calculateRtuFrameSize(buffer)
    return size or None


def tcp_reply_length(buffer: bytes) -> int | None:
    """Length of the Modbus TCP (MBAP) frame at the start of ``buffer``."""
    if len(buffer) < MBAP_HEADER:
        return None
    protocol = int.from_bytes(buffer[2:4], "big")
    if protocol != 0:
        raise FrameError(f"MBAP protocol id {protocol} is not 0 (Modbus)")
    length = int.from_bytes(buffer[4:6], "big")
    if not 2 <= length <= 254:  # unit id + function at least; a PDU is at most 253 bytes
        raise FrameError(f"MBAP length {length} is outside 2-254")
    return MBAP_HEADER + length


# --- decoding replies (master side) ----------------------------------------------------------


def _check_crc(frame: bytes) -> None:
    if len(frame) < 4:
        raise FrameError(f"RTU frame of {len(frame)} bytes is too short")
    expected = crc16(frame[:-2])
    if frame[-2:] != expected:
        raise ChecksumError(
            f"CRC {frame[-2:].hex().upper()} does not match {expected.hex().upper()}"
        )


def rtu_decode_reply(frame: bytes, request: Request) -> Reply:
    """Check an RTU reply to ``request`` (CRC, unit, function, contents) and decode it."""
    _check_crc(frame)
    if frame[0] != request.unit:
        raise AddressMismatch(f"reply from unit {frame[0]}, not from unit {request.unit}")
    return _decode_reply_pdu(request, frame[1:-2])


def tcp_decode_reply(frame: bytes, request: Request, transaction_id: int) -> Reply:
    """Check a Modbus TCP reply to ``request`` sent with ``transaction_id`` and decode it."""
    length = tcp_reply_length(frame)
    if length is None or length != len(frame):
        raise FrameError(f"MBAP frame of {len(frame)} bytes does not match its length field")
    used, unit, tid, pdu = _MBAP.decode(frame)
    if used != len(frame) or not pdu:
        raise FrameError("MBAP frame could not be cut out")
    if tid != transaction_id:
        raise FrameError(f"reply to transaction {tid}, not to {transaction_id}")
    if unit != request.unit:
        raise AddressMismatch(f"reply from unit {unit}, not from unit {request.unit}")
    return _decode_reply_pdu(request, pdu)


def _decode_reply_pdu(request: Request, pdu_bytes: bytes) -> Reply:
    if not pdu_bytes:
        raise FrameError("reply without a function code")
    function = pdu_bytes[0]
    if function == request.function | 0x80:
        if len(pdu_bytes) != 2:
            raise FrameError(f"exception reply of {len(pdu_bytes)} PDU bytes, not 2")
        pdu = _CLIENT_DECODER.decode(pdu_bytes)
        if not isinstance(pdu, ExceptionResponse):  # pragma: no cover - pymodbus contract
            raise FrameError("exception reply could not be decoded")
        return Reply(request.unit, request.function, exception_code=pdu.exception_code)
    if function != request.function:
        raise FrameError(
            f"reply with function 0x{function:02X} to a request with 0x{request.function:02X}"
        )
    expected = {
        READ_HOLDING: 2 + 2 * request.count,
        READ_INPUT: 2 + 2 * request.count,
        WRITE_SINGLE: 5,
        WRITE_MULTIPLE: 5,
    }[function]
    if len(pdu_bytes) != expected:
        raise FrameError(
            f"{request.describe()} reply carries {len(pdu_bytes)} PDU bytes, not {expected}"
        )
    if function in READ_FUNCTIONS and pdu_bytes[1] != 2 * request.count:
        raise FrameError(f"byte count {pdu_bytes[1]} does not match {request.count} registers")
    pdu = _CLIENT_DECODER.decode(pdu_bytes)
    if pdu is None:
        raise FrameError(f"{request.describe()} reply could not be decoded")
    if function in READ_FUNCTIONS:
        registers = tuple(pdu.registers)
        if len(registers) != request.count:  # pragma: no cover - checked by length above
            raise FrameError(f"{len(registers)} registers came back, not {request.count}")
        return Reply(request.unit, function, registers)
    if pdu.address != request.address:
        raise FrameError(f"write acknowledged at 0x{pdu.address:04X}, not 0x{request.address:04X}")
    if function == WRITE_SINGLE and tuple(pdu.registers) != request.values:
        raise FrameError(f"write echoed {list(pdu.registers)}, not {list(request.values)}")
    if function == WRITE_MULTIPLE and pdu.count != len(request.values):
        raise FrameError(f"write acknowledged {pdu.count} registers, not {len(request.values)}")
    return Reply(request.unit, function, request.values)


# --- the slave side (our simulator) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """A request as a slave sees it. ``problem`` is the exception code to answer with when the
    request is well framed but asks for something no slave may do (a count out of range)."""

    unit: int
    function: int
    address: int
    count: int
    values: tuple[int, ...] = ()
    problem: int | None = None


def rtu_decode_request(frame: bytes) -> IncomingRequest:
    """Check an RTU request's CRC and read its fields (simulator side)."""
    _check_crc(frame)
    unit, function, body = frame[0], frame[1], frame[2:-2]
    if function not in FUNCTIONS:
        raise FrameError(f"function 0x{function:02X} is not served")
    if len(body) < 4:
        raise FrameError(f"FC{function:02d} request of {len(frame)} bytes is too short")
    address, second = struct.unpack(">HH", body[:4])
    if function in READ_FUNCTIONS:
        if len(body) != 4:
            raise FrameError(f"FC{function:02d} request of {len(frame)} bytes, not 8")
        bad = None if 1 <= second <= MAX_READ_COUNT and address + second <= 0x10000 else 0x03
        return IncomingRequest(unit, function, address, second, problem=bad)
    if function == WRITE_SINGLE:
        if len(body) != 4:
            raise FrameError(f"FC06 request of {len(frame)} bytes, not 8")
        return IncomingRequest(unit, function, address, 1, (second,))
    if len(body) < 5 or len(body) != 5 + body[4]:
        raise FrameError(f"FC16 request of {len(frame)} bytes does not match its byte count")
    byte_count = body[4]
    data = body[5:]
    values = tuple(struct.unpack(f">{len(data) // 2}H", data[: len(data) // 2 * 2]))
    ok = 1 <= second <= MAX_WRITE_COUNT and byte_count == 2 * second and address + second <= 0x10000
    return IncomingRequest(unit, function, address, second, values, problem=None if ok else 0x03)


def rtu_encode_read_reply(unit: int, function: int, registers: Sequence[int]) -> bytes:
    """The RTU reply to an FC03/FC04 read."""
    response = {READ_HOLDING: ReadHoldingRegistersResponse, READ_INPUT: ReadInputRegistersResponse}
    pdu = response[function](dev_id=unit, registers=list(registers))
    return _RTU.buildFrame(pdu)


def rtu_encode_write_reply(unit: int, function: int, address: int, values: Sequence[int]) -> bytes:
    """The RTU reply to an FC06 (echo) or FC16 (address and count) write."""
    pdu: ModbusPDU
    if function == WRITE_SINGLE:
        pdu = WriteSingleRegisterResponse(dev_id=unit, address=address, registers=list(values))
    else:
        pdu = WriteMultipleRegistersResponse(dev_id=unit, address=address, count=len(values))
    return _RTU.buildFrame(pdu)


def rtu_encode_exception(unit: int, function: int, code: int) -> bytes:
    """The RTU exception reply (function | 0x80, exception code)."""
    return _RTU.buildFrame(ExceptionResponse(function, code, device_id=unit))
