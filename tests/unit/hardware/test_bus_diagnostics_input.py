"""What a technician types for a raw DL/T 645 read or write, and how results are described."""

from __future__ import annotations

import pytest

from app.hardware.bus_diagnostics import (
    describe_di_data,
    describe_registers,
    parse_di_code,
    parse_di_value,
)
from app.hardware.profiles import load_profile


def test_di_codes() -> None:
    assert parse_di_code(" 02010100 ") == 0x02010100
    with pytest.raises(ValueError, match="8 hex digits"):
        parse_di_code("0201")


def test_values_in_the_identifier_format() -> None:
    assert parse_di_value(0x04001001, "12.5") == b"\x50\x12\x00\x00"
    assert parse_di_value(0x04000101, "2030-01-31") == b"\x04\x31\x01\x30"
    assert parse_di_value(0x04000102, "12:30:05") == b"\x05\x30\x12"
    assert parse_di_value(0x0F0F0F0F, "00 12") == b"\x00\x12"
    assert parse_di_value(0x04000503, "10 00") == b"\x10\x00"  # a status word: hex bytes
    with pytest.raises(ValueError, match="takes a number"):
        parse_di_value(0x04001001, "lots")
    with pytest.raises(ValueError, match="takes a date"):
        parse_di_value(0x04000101, "31.01.2030")
    with pytest.raises(ValueError, match="not hex bytes"):
        parse_di_value(0x0F0F0F0F, "zz")
    with pytest.raises(ValueError, match="give the data"):
        parse_di_value(0x0F0F0F0F, " ")


def test_di_data_described() -> None:
    assert describe_di_data(0x00900200, b"\x50\x42\x00\x00") == "remaining amount = 42.50 CNY"
    assert describe_di_data(0x04000503, b"\x10\x00") == "run status word 3 = 0010h"
    assert describe_di_data(0x04000102, b"\x05\x04\x03") == "time = 03:04:05"
    assert describe_di_data(0x0F0F0F0F, b"\x01") == "not in the DI table: shown as bytes"
    assert "voltage phase A: " in describe_di_data(0x02010100, b"\x01")


def test_registers_described_with_the_profile_values() -> None:
    profile = load_profile("acrel-ddsy1352")
    text = describe_registers(profile, 3, 0x000B, [2201, 150])
    assert text == "2201, 150; voltage_v = 220.1; current_a = 1.5"
    assert describe_registers(profile, 4, 0x000B, [2201]) == "2201"
