"""The frame log's decoder: every supported frame in words, bad bytes described, never raised."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.hardware.cjt188 import codec as cjt
from app.hardware.dlt645 import codec as dlt
from app.hardware.frame_text import describe_frame, hex_bytes, recognise
from app.hardware.modbus import pymodbus_adapter as mb

METER = "000000000001"


def test_dlt645_read_request_shows_the_di_in_order_and_the_data_without_0x33() -> None:
    frame = dlt.read_request(METER, 0x02010100)
    assert hex_bytes(frame).endswith("68 11 04 33 34 34 35 B6 16")
    text = describe_frame(frame, "tx", "read 02010100 voltage phase A")
    assert text == (
        "000000000001 · 11 read request: DI 02010100 voltage phase A · data−33h: 00 01 01 02"
    )


def test_dlt645_read_reply_decodes_the_value_with_its_unit() -> None:
    reply = dlt.reply_frame(METER, dlt.Function.READ, dlt.di_bytes(0x02010100) + b"\x05\x22")
    assert describe_frame(reply, "rx") == (
        "000000000001 · 91 read reply: DI 02010100 voltage phase A = 220.5 V"
        " · data−33h: 00 01 01 02 05 22"
    )
    status = dlt.reply_frame(METER, dlt.Function.READ, dlt.di_bytes(0x04000503) + b"\x10\x00")
    assert "DI 04000503 run status word 3 = 0010h" in describe_frame(status, "rx")
    clock = dlt.reply_frame(METER, dlt.Function.READ, dlt.di_bytes(0x04000102) + b"\x05\x04\x03")
    assert "DI 04000102 time = 03:04:05" in describe_frame(clock, "rx")
    unknown = dlt.reply_frame(METER, dlt.Function.READ, dlt.di_bytes(0x0F0F0F0F) + b"\x01")
    assert "DI 0F0F0F0F ·" in describe_frame(unknown, "rx")
    short = dlt.reply_frame(METER, dlt.Function.READ, dlt.di_bytes(0x02010100) + b"\x01")
    assert "voltage phase A · data" in describe_frame(short, "rx")  # wrong length: no value


def test_dlt645_follow_up_and_more_flag() -> None:
    reply = dlt.reply_frame(
        METER, dlt.Function.READ_FOLLOW, dlt.di_bytes(0x02010100) + b"\x05\x22\x01", more=True
    )
    assert "B2 read follow-up reply, more follows: DI 02010100" in describe_frame(reply, "rx")


def test_dlt645_error_replies_are_named() -> None:
    error = dlt.error_reply_frame(METER, dlt.Function.READ, b"\x02")
    assert "D1 read error reply: no data requested" in describe_frame(error, "rx")
    relay = dlt.error_reply_frame(METER, dlt.Function.RELAY, b"\x04\x00")
    assert "password error or not authorised" in describe_frame(relay, "rx")


def test_dlt645_address_time_write_and_relay_requests() -> None:
    assert describe_frame(dlt.read_address_request(), "tx") == (
        "AAAAAAAAAAAA · 13 read address request"
    )
    answer = dlt.reply_frame(
        "123456789012", dlt.Function.READ_ADDRESS, dlt.encode_address("123456789012")
    )
    assert "read address reply: address 123456789012" in describe_frame(answer, "rx")
    sync = dlt.broadcast_time_request(datetime(2030, 1, 2, 3, 4, 5))
    assert "999999999999 · 08 broadcast time sync request: set clocks to 2030-01-02 03:04:05" in (
        describe_frame(sync, "tx")
    )
    bad_time = dlt.encode_frame(dlt.BROADCAST, dlt.Function.BROADCAST_TIME, b"\x99" * 6)
    assert "is not a date and time" in describe_frame(bad_time, "tx")
    write = dlt.write_request(METER, 0x04001001, "02000000", "00000000", b"\x50\x12\x00\x00")
    assert "14 write request: DI 04001001 alarm amount 1 limit = 12.50" in describe_frame(
        write, "tx"
    )
    trip = dlt.relay_request(
        METER, "02000000", "00000000", dlt.RelayAction.TRIP, datetime(2030, 1, 2, 3, 4, 5)
    )
    assert "1C relay control request: trip (1A), valid until 2030-01-02 03:04:05" in (
        describe_frame(trip, "tx")
    )
    odd_frame = dlt.encode_frame(METER, dlt.Function.RELAY, bytes(8) + b"\x77\x00" + b"\x99" * 6)
    assert "action 77" in describe_frame(odd_frame, "tx")
    freeze = dlt.encode_frame(METER, dlt.Function.FREEZE, b"")
    assert describe_frame(freeze, "tx") == "000000000001 · 16 freeze request"


def test_dlt645_broken_frame_says_why() -> None:
    frame = bytearray(dlt.read_request(METER, 0x02010100))
    frame[-2] ^= 0xFF
    assert "DL/T 645 frame not valid: checksum" in describe_frame(bytes(frame), "rx")


def test_modbus_requests_and_replies() -> None:
    read = mb.rtu_encode_request(mb.Request(1, 3, 0x000B, 6))
    assert describe_frame(read, "tx", "read voltage_v") == (
        "unit 1 · FC03 read holding registers 0x000B–0x0010 (6) (read voltage_v)"
    )
    reply = mb.rtu_encode_read_reply(1, 3, [2200, 5])
    assert describe_frame(reply, "rx") == (
        "unit 1 · FC03 read holding registers reply, 2 register(s): 0x0898 (2200), 0x0005 (5)"
    )
    many = mb.rtu_encode_read_reply(1, 4, list(range(20)))
    assert describe_frame(many, "rx").endswith(", …")
    one = mb.rtu_encode_request(mb.Request(7, 4, 0x0048, 1))
    assert describe_frame(one, "tx") == "unit 7 · FC04 read input registers 0x0048"
    single = mb.rtu_encode_request(mb.Request(1, 6, 0x001A, values=(1,)))
    assert describe_frame(single, "tx") == "unit 1 · FC06 write register 0x001A = 0x0001 (1)"
    echo = mb.rtu_encode_write_reply(1, 6, 0x001A, [1])
    assert describe_frame(echo, "rx") == "unit 1 · FC06 write register done: 0x001A = 0x0001 (1)"
    multiple = mb.rtu_encode_request(mb.Request(1, 16, 0x0057, values=(1, 1)))
    assert describe_frame(multiple, "tx") == (
        "unit 1 · FC16 write registers 0x0057–0x0058 (2) = 0x0001 (1), 0x0001 (1)"
    )
    done = mb.rtu_encode_write_reply(1, 16, 0x0057, [1, 1])
    assert describe_frame(done, "rx") == "unit 1 · FC16 write registers done: 0x0057–0x0058 (2)"


def test_modbus_exceptions_and_faults_are_named() -> None:
    refused = mb.rtu_encode_exception(1, 3, 2)
    assert describe_frame(refused, "rx") == (
        "unit 1 · FC03 read holding registers exception: illegal data address (exception 02)"
    )
    frame = bytearray(mb.rtu_encode_request(mb.Request(1, 3, 0, 2)))
    frame[-1] ^= 0xFF
    assert describe_frame(bytes(frame), "tx", protocol="modbus-rtu").startswith(
        "Modbus CRC error: CRC"
    )
    assert describe_frame(b"\x01\x03\x00", "rx", protocol="modbus-rtu") == (
        "Modbus frame of 3 bytes is too short"
    )
    assert describe_frame(b"", "rx") == "empty frame"
    odd = b"\x01\x2b\x0e\x01"
    odd += mb.crc16(odd)
    assert "not a function MeterDesk uses" in describe_frame(odd, "rx")
    short = b"\x01\x03\x05\x00"
    short += mb.crc16(short)
    assert "data bytes do not fit" in describe_frame(short, "rx")
    assert "data bytes do not fit" in describe_frame(short, "tx")
    broadcast = mb.rtu_encode_request(mb.Request(0, 6, 1, values=(2,)))
    assert describe_frame(broadcast, "tx").startswith("unit 0 (broadcast) · FC06")


def test_modbus_tcp_frames_show_the_transaction() -> None:
    frame = mb.tcp_encode_request(mb.Request(1, 4, 0, 2), 7)
    assert describe_frame(frame, "tx") == (
        "MBAP transaction 7 · unit 1 · FC04 read input registers 0x0000–0x0001 (2)"
    )


def test_cjt188_frames() -> None:
    read = cjt.build_request(cjt.COLD_WATER, "00000091113480", cjt.READ_DATA, cjt.DI_METER_DATA, 5)
    text = describe_frame(read, "tx")
    assert "type 10 (water) · 00000091113480 · 01 read data request: DI 901F meter data" in text
    assert "SER 05" in text
    valve = cjt.encode_frame(cjt.COLD_WATER, "00000091113480", cjt.WRITE_DATA, b"\xa0\x17\x01\x99")
    assert "DI A017 valve control, SER 01, close" in describe_frame(valve, "tx")
    low_first = cjt.encode_frame(
        cjt.COLD_WATER, "00000091113480", cjt.WRITE_DATA, b"\x17\xa0\x01\x55"
    )
    assert "DI A017 valve control, SER 01, open" in describe_frame(low_first, "tx")
    bare = cjt.encode_frame(cjt.GAS, "00000091113480", 0x81, b"\x01")
    assert describe_frame(bare, "rx") == (
        "type 30 (gas) · 00000091113480 · 81 read data reply · data 01"
    )
    broken = bytearray(valve)
    broken[-2] ^= 0x01
    assert describe_frame(bytes(broken), "rx").startswith("CJ/T 188 frame not valid: checksum")


@pytest.mark.parametrize(
    ("frame", "protocol"),
    [
        (dlt.read_request(METER, 0x00010000), "dlt645-2007"),
        (cjt.encode_frame(cjt.COLD_WATER, "00000091113480", 1, b"\x90\x1f\x00"), "cjt188"),
        (mb.rtu_encode_request(mb.Request(0x68, 3, 0, 1)), "modbus-rtu"),
        (b"\xfe\x68\x01\x02\x03\x04\x05\x06\x68\x11", "dlt645-2007"),  # cut short: by its shape
        (b"\x68\x10\x01\x02\x03\x04\x05\x06\x07\x01", "cjt188"),
        (b"\x01\x02", "modbus-rtu"),
    ],
)
def test_protocol_recognised_from_the_bytes(frame: bytes, protocol: str) -> None:
    assert recognise(frame) == protocol
