"""Frames built and read by the pymodbus adapter, checked against frames known from the Modbus
specification, vendor manuals and captures."""

from __future__ import annotations

import pytest

from app.hardware.errors import AddressMismatch, ChecksumError, FrameError
from app.hardware.modbus import pymodbus_adapter as mb


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "frame"),
    [
        # read 10 holding registers from 0 at unit 1: the textbook example
        (mb.Request(1, 3, 0x0000, 10), "01 03 00 00 00 0A C5 CD"),
        # SDM120 voltage: read 2 input registers at 0 (Tasmota's capture comment)
        (mb.Request(1, 4, 0x0000, 2), "01 04 00 00 00 02 71 CB"),
        # Hiking DDS238 relay off with FC16
        (mb.Request(1, 16, 0x001A, values=(0,)), "01 10 00 1A 00 01 02 00 00 A4 6A"),
        (mb.Request(1, 6, 0x001A, values=(1,)), "01 06 00 1A 00 01 69 CD"),
    ],
)
def test_rtu_requests_are_the_known_frames(request_: mb.Request, frame: str) -> None:
    assert mb.rtu_encode_request(request_) == h(frame)


def test_crc_is_sent_low_byte_first() -> None:
    assert mb.crc16(h("01 03 00 00 00 0A")) == h("C5 CD")
    assert mb.crc16(h("01 83 02")) == h("C0 F1")


def test_mbap_request_carries_transaction_protocol_length_and_unit() -> None:
    frame = mb.tcp_encode_request(mb.Request(17, 3, 0x006B, 3), transaction_id=0x0001)
    # The Modbus Messaging Implementation Guide's example: no CRC, length 6 = unit + PDU.
    assert frame == h("00 01 00 00 00 06 11 03 00 6B 00 03")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 3, 0, 0), "1 to 125"),
        ((1, 3, 0, 126), "1 to 125"),
        ((1, 4, 0xFFFF, 2), "past address 65535"),
        ((1, 5, 0, 1), "not one of"),
        ((256, 3, 0, 1), "unit id"),
    ],
)
def test_impossible_requests_are_refused_before_sending(
    args: tuple[int, int, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        mb.Request(*args)


def test_write_requests_check_their_values() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        mb.Request(1, 6, 0, values=(1, 2))
    with pytest.raises(ValueError, match="0-65535"):
        mb.Request(1, 16, 0, values=(70000,))
    with pytest.raises(ValueError, match="1 to 123"):
        mb.Request(1, 16, 0, values=())
    with pytest.raises(ValueError, match="transaction id"):
        mb.tcp_encode_request(mb.Request(1, 3, 0, 1), 70000)


# --- reply lengths ----------------------------------------------------------------------------


def test_rtu_reply_length_follows_the_byte_count() -> None:
    reply = h("01 04 04 43 66 33 34 1B 38")
    assert mb.rtu_reply_length(reply[:1]) is None
    assert mb.rtu_reply_length(reply[:2]) is None  # the byte count is not there yet
    assert mb.rtu_reply_length(reply[:3]) == 9
    assert mb.rtu_reply_length(h("01 83 02")) == 5
    assert mb.rtu_reply_length(h("01 10 00")) == 8
    assert mb.rtu_reply_length(h("01 06")) == 8


def test_rtu_reply_length_rejects_functions_we_never_ask_for() -> None:
    with pytest.raises(FrameError, match="0x01"):
        mb.rtu_reply_length(h("01 01 02"))
    with pytest.raises(FrameError, match="0x81"):
        mb.rtu_reply_length(h("01 81 02"))


def test_rtu_request_length_on_the_slave_side() -> None:
    write = mb.rtu_encode_request(mb.Request(3, 16, 0x0057, values=(1, 1)))
    assert mb.rtu_request_length(write[:6]) is None
    assert mb.rtu_request_length(write[:7]) == len(write) == 13
    assert mb.rtu_request_length(h("01 03")) == 8
    with pytest.raises(FrameError, match="beyond 247"):
        mb.rtu_request_length(h("F8 03"))
    with pytest.raises(FrameError, match="0x2B"):
        mb.rtu_request_length(h("01 2B"))


def test_mbap_length_comes_from_the_header() -> None:
    assert mb.tcp_reply_length(h("00 01 00 00 00")) is None
    assert mb.tcp_reply_length(h("00 01 00 00 00 05")) == 11
    with pytest.raises(FrameError, match="protocol id 1"):
        mb.tcp_reply_length(h("00 01 00 01 00 05"))
    with pytest.raises(FrameError, match="length 1 "):
        mb.tcp_reply_length(h("00 01 00 00 00 01"))
    with pytest.raises(FrameError, match="length 300"):
        mb.tcp_reply_length(h("00 01 00 00 01 2C"))


# --- replies ----------------------------------------------------------------------------------

VOLTAGE = mb.Request(1, 4, 0x0000, 2)


def test_read_reply_gives_the_registers() -> None:
    # "01 04 04 43 66 33 34 1B 38 = 230.2 Volt" (Tasmota's SDM120 driver)
    reply = mb.rtu_decode_reply(h("01 04 04 43 66 33 34 1B 38"), VOLTAGE)
    assert reply.registers == (0x4366, 0x3334)
    assert not reply.refused


def test_exception_reply_gives_the_code_and_its_name() -> None:
    reply = mb.rtu_decode_reply(h("01 83 02 C0 F1"), mb.Request(1, 3, 0, 10))
    assert reply.exception_code == 2
    assert reply.refused
    assert mb.exception_name(2) == "illegal data address (exception 02)"
    assert mb.exception_name(4) == "server device failure (exception 04)"
    assert "unknown" in mb.exception_name(0x42)


def test_a_broken_crc_is_a_checksum_error() -> None:
    with pytest.raises(ChecksumError, match="does not match"):
        mb.rtu_decode_reply(h("01 04 04 43 66 33 34 1B 39"), VOLTAGE)


def test_a_reply_from_another_unit_is_an_address_mismatch() -> None:
    frame = h("02 04 04 43 66 33 34")
    with pytest.raises(AddressMismatch, match="unit 2"):
        mb.rtu_decode_reply(frame + mb.crc16(frame), VOLTAGE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("01 03 04 43 66 33 34", "function 0x03 to a request with 0x04"),
        ("01 04 02 43 66", "PDU bytes"),
        ("01 84 02 00", "exception reply of 3"),
        ("01 84", "exception reply of 1"),
        ("01", "too short"),
    ],
)
def test_replies_that_do_not_answer_the_request_are_frame_errors(body: str, message: str) -> None:
    frame = h(body)
    with pytest.raises(FrameError, match=message):
        mb.rtu_decode_reply(frame + mb.crc16(frame), VOLTAGE)


def test_a_read_reply_whose_byte_count_lies_is_a_frame_error() -> None:
    frame = h("01 04 06 43 66 33 34")  # says 6 bytes, carries 4 (and is 4 long)
    with pytest.raises(FrameError, match="byte count 6"):
        mb.rtu_decode_reply(frame + mb.crc16(frame), VOLTAGE)


def test_write_replies_must_echo_the_write() -> None:
    single = mb.Request(1, 6, 0x001A, values=(1,))
    echo = mb.rtu_encode_write_reply(1, 6, 0x001A, [1])
    assert echo == mb.rtu_encode_request(single)  # FC06 echoes the request
    assert mb.rtu_decode_reply(echo, single).registers == (1,)
    wrong = mb.rtu_encode_write_reply(1, 6, 0x001A, [0])
    with pytest.raises(FrameError, match="echoed"):
        mb.rtu_decode_reply(wrong, single)
    multiple = mb.Request(1, 16, 0x0057, values=(1, 1))
    ack = mb.rtu_encode_write_reply(1, 16, 0x0057, [1, 1])
    assert ack == h("01 10 00 57 00 02") + mb.crc16(h("01 10 00 57 00 02"))
    mb.rtu_decode_reply(ack, multiple)
    with pytest.raises(FrameError, match="acknowledged 1 registers"):
        mb.rtu_decode_reply(mb.rtu_encode_write_reply(1, 16, 0x0057, [1]), multiple)
    with pytest.raises(FrameError, match="at 0x0058"):
        mb.rtu_decode_reply(mb.rtu_encode_write_reply(1, 16, 0x0058, [1, 1]), multiple)


def test_mbap_reply_is_matched_by_transaction_and_unit() -> None:
    request = mb.Request(17, 3, 0x006B, 3)
    frame = h("00 01 00 00 00 09 11 03 06 02 2B 00 00 00 64")
    assert mb.tcp_reply_length(frame) == len(frame)
    assert mb.tcp_decode_reply(frame, request, 1).registers == (0x022B, 0x0000, 0x0064)
    with pytest.raises(FrameError, match="transaction 1, not to 2"):
        mb.tcp_decode_reply(frame, request, 2)
    with pytest.raises(AddressMismatch):
        mb.tcp_decode_reply(frame, mb.Request(16, 3, 0x006B, 3), 1)
    with pytest.raises(FrameError, match="length field"):
        mb.tcp_decode_reply(frame[:-1], request, 1)
    exception = h("00 07 00 00 00 03 11 83 02")
    assert mb.tcp_decode_reply(exception, request, 7).exception_code == 2


# --- the slave side -------------------------------------------------------------------------


def test_slave_decodes_requests_and_flags_bad_counts() -> None:
    read = mb.rtu_decode_request(h("01 03 00 00 00 0A C5 CD"))
    assert (read.unit, read.function, read.address, read.count, read.problem) == (1, 3, 0, 10, None)
    body = h("01 03 00 00 00 7E")  # 126 registers
    assert mb.rtu_decode_request(body + mb.crc16(body)).problem == 3
    body = h("01 10 00 1A 00 02 02 00 01")  # byte count 2 for 2 registers
    assert mb.rtu_decode_request(body + mb.crc16(body)).problem == 3
    write = mb.rtu_decode_request(mb.rtu_encode_request(mb.Request(1, 16, 0x57, values=(1, 0))))
    assert (write.address, write.count, write.values, write.problem) == (0x57, 2, (1, 0), None)
    with pytest.raises(ChecksumError):
        mb.rtu_decode_request(h("01 03 00 00 00 0A C5 CE"))


def test_slave_replies_are_the_known_frames() -> None:
    assert mb.rtu_encode_exception(1, 3, 2) == h("01 83 02 C0 F1")
    assert mb.rtu_encode_read_reply(1, 4, [0x4366, 0x3334]) == h("01 04 04 43 66 33 34 1B 38")
