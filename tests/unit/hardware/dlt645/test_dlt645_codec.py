"""DL/T 645-2007 codec: known frames, values, error replies, and fuzzing of every decoder."""

from __future__ import annotations

import contextlib
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.hardware.dlt645 import codec
from app.hardware.dlt645.codec import Function, RelayAction
from app.hardware.dlt645.di_table import di_table
from app.hardware.errors import (
    AddressMismatch,
    ChecksumError,
    ExceptionReply,
    FieldFault,
    FrameError,
)

# Frames published with a worked example of the standard (hwhale.com/article/138066, copied
# from a 2012 wenku "DLT645-2007 规约 常见报文解析"): meter 000000000161.
PUBLISHED_READ_ENERGY = "68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16"
PUBLISHED_ENERGY_REPLY = "68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16"  # 0.26
PUBLISHED_READ_VOLTAGE = "68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16"
PUBLISHED_VOLTAGE_REPLY = "68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16"  # 100.1 V

# Built by hand from the rules, for meter 000000000001:
#   FE FE FE FE · 68 · 01 00 00 00 00 00 · 68 · 11 · 04 · DI 02010100 sent 00 01 01 02, +33 ->
#   33 34 34 35 · CS = 68+01+68+11+04+33+34+34+35 = 0x1B6 -> B6 · 16
HAND_READ_VOLTAGE = "FE FE FE FE 68 01 00 00 00 00 00 68 11 04 33 34 34 35 B6 16"
#   reply 220.5 V: control 91, L 06, DI + 05 22 (+33: 38 55), CS = 0x2C5 -> C5
HAND_VOLTAGE_REPLY = "68 01 00 00 00 00 00 68 91 06 33 34 34 35 38 55 C5 16"


def hx(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --- frames -------------------------------------------------------------------------------


def test_requests_match_published_frames() -> None:
    assert codec.read_request("000000000161", 0x00010000, wake_up=0) == hx(PUBLISHED_READ_ENERGY)
    assert codec.read_request("161", 0x02010100, wake_up=0) == hx(PUBLISHED_READ_VOLTAGE)


def test_published_replies_decode_to_their_values() -> None:
    energy = codec.decode_frame(hx(PUBLISHED_ENERGY_REPLY))
    assert energy.address == "000000000161"
    assert energy.is_reply
    assert not energy.is_error
    assert energy.function == Function.READ
    data, more = codec.parse_read_reply(energy, 0x00010000)
    assert not more
    assert codec.decode_number(data, 2, False) == Decimal("0.26")
    voltage = codec.decode_frame(hx(PUBLISHED_VOLTAGE_REPLY))
    data, _ = codec.parse_read_reply(voltage, 0x02010100)
    assert codec.decode_number(data, 1, False) == Decimal("100.1")


def test_hand_built_voltage_request_and_reply() -> None:
    assert codec.read_request("000000000001", 0x02010100) == hx(HAND_READ_VOLTAGE)
    frame = codec.decode_frame(hx(HAND_VOLTAGE_REPLY))
    codec.check_reply(frame, function=Function.READ, address="000000000001")
    data, _ = codec.parse_read_reply(frame, 0x02010100)
    assert data == bytes([0x05, 0x22])  # the 0x33 offset is gone
    assert codec.decode_number(data, 1, False) == Decimal("220.5")
    # The reply as a meter would send it: same bytes from the encoder.
    assert codec.reply_frame("000000000001", Function.READ, hx("00010102 0522")) == hx(
        HAND_VOLTAGE_REPLY
    )


def test_wake_up_bytes_are_accepted_in_any_number() -> None:
    reply = hx(HAND_VOLTAGE_REPLY)
    for count in (0, 1, 4, 9):
        framed = b"\xfe" * count + reply
        assert codec.frame_length(framed) == len(framed)
        assert codec.decode_frame(framed).address == "000000000001"


def test_frame_length_waits_for_the_length_byte_and_rejects_garbage() -> None:
    reply = hx(HAND_VOLTAGE_REPLY)
    assert codec.frame_length(b"") is None
    assert codec.frame_length(b"\xfe\xfe") is None
    assert codec.frame_length(reply[:9]) is None
    assert codec.frame_length(reply[:10]) == len(reply)
    with pytest.raises(FrameError):
        codec.frame_length(b"\x00\x68")
    with pytest.raises(FrameError):
        codec.frame_length(hx("68 01 00 00 00 00 00 99"))  # no second 68


def test_checksum_and_framing_errors() -> None:
    reply = bytearray(hx(HAND_VOLTAGE_REPLY))
    reply[-2] ^= 0x5A
    with pytest.raises(ChecksumError):
        codec.decode_frame(bytes(reply))
    reply = bytearray(hx(HAND_VOLTAGE_REPLY))
    reply[-1] = 0x17
    with pytest.raises(FrameError, match="ends with 17"):
        codec.decode_frame(bytes(reply))
    with pytest.raises(FrameError, match="length byte"):
        codec.decode_frame(hx(HAND_VOLTAGE_REPLY)[:-3] + hx("C5 16"))


def test_reply_checks_direction_function_and_address() -> None:
    reply = codec.decode_frame(hx(HAND_VOLTAGE_REPLY))
    with pytest.raises(AddressMismatch):
        codec.check_reply(reply, function=Function.READ, address="000000000002")
    with pytest.raises(FrameError, match="function"):
        codec.check_reply(reply, function=Function.WRITE, address="000000000001")
    request = codec.decode_frame(hx(HAND_READ_VOLTAGE))
    with pytest.raises(FrameError, match="expected a reply"):
        codec.check_reply(request, function=Function.READ, address="000000000001")
    with pytest.raises(FrameError, match="DI 02010100, asked 02020100"):
        codec.parse_read_reply(reply, 0x02020100)


def test_broadcast_time_sync_frame_layout() -> None:
    raw = codec.broadcast_time_request(datetime(2026, 9, 1, 13, 45, 7), wake_up=0)
    # 68 99x6 68 08 06 <ss mm hh DD MM YY + 33> CS 16
    body = hx("68 999999999999 68 08 06") + bytes(b + 0x33 for b in hx("07 45 13 01 09 26"))
    assert raw == body + bytes([sum(body) & 0xFF, 0x16])
    frame = codec.decode_frame(raw)
    assert frame.address == codec.BROADCAST
    assert codec.decode_datetime6(frame.data) == datetime(2026, 9, 1, 13, 45, 7)


def test_relay_request_data_layout() -> None:
    expiry = datetime(2026, 9, 1, 12, 30, 0)
    raw = codec.relay_request("000000000001", "02123456", "12345678", RelayAction.TRIP, expiry)
    frame = codec.decode_frame(raw)
    assert frame.function == Function.RELAY
    # PA P0 P1 P2 · C0..C3 · N1 · N2 · ss mm hh DD MM YY
    assert frame.data == hx("02 56 34 12  78 56 34 12  1A 00  00 30 12 01 09 26")


def test_read_address_uses_the_wildcard_and_reply_carries_the_address() -> None:
    raw = codec.read_address_request(wake_up=0)
    assert raw == hx("68 AAAAAAAAAAAA 68 13 00") + bytes(
        [(0x68 * 2 + 0xAA * 6 + 0x13) & 0xFF, 0x16]
    )
    reply = codec.decode_frame(
        codec.reply_frame("123456789012", Function.READ_ADDRESS, hx("12 90 78 56 34 12"))
    )
    assert codec.parse_address_reply(reply) == "123456789012"


def test_follow_up_reply_carries_sequence() -> None:
    frame = codec.decode_frame(
        codec.reply_frame("000000000001", Function.READ_FOLLOW, hx("00000100 4433 02"), more=True)
    )
    assert codec.parse_follow_reply(frame, 0x00010000, 2) == (hx("4433"), True)
    with pytest.raises(FrameError, match="sequence"):
        codec.parse_follow_reply(frame, 0x00010000, 3)


# --- error replies ------------------------------------------------------------------------


def test_read_error_reply_names_the_reason() -> None:
    raw = hx("68 01 00 00 00 00 00 68 D1 01 35")  # ERR 02 + 33
    raw += bytes([sum(raw) & 0xFF, 0x16])
    frame = codec.decode_frame(raw)
    assert frame.is_error
    with pytest.raises(ExceptionReply, match="no data requested") as caught:
        codec.check_reply(frame, function=Function.READ, address="000000000001")
    assert caught.value.code == 0x02


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (b"\x04", "password error or not authorised"),
        (b"\x08", "baud rate cannot be changed"),
        (b"\x10", "too many year time zones"),
        (b"\x20", "too many day time segments"),
        (b"\x05", "other error, password error"),
    ],
)
def test_error_word_bits(error: bytes, words: str) -> None:
    assert words in codec.describe_error(error)


def test_relay_error_word_tells_when_the_meter_wants_encryption() -> None:
    assert codec.demands_encryption((codec.RELAY_ERR_MAC).to_bytes(2, "little"))
    assert codec.demands_encryption((codec.RELAY_ERR_IDENTITY).to_bytes(2, "little"))
    assert not codec.demands_encryption(b"\x04")  # one-byte ERR: only "password/unauthorised"
    assert not codec.demands_encryption((codec.RELAY_ERR_PASSWORD).to_bytes(2, "little"))
    text = codec.describe_error((0x0020).to_bytes(2, "little"), relay=True)
    assert text == "trip refused: keep power is on"


def test_run_status_word_3_bits() -> None:
    # bit 4 relay state (1 = open), bit 6 relay command state, bit 7 pre-trip alarm,
    # bits 8-9 meter type (10 = money prepaid)
    assert codec.decode_run_status_3(0x0210) == {
        "run_status_word_3": 0x0210,
        "relay_open": True,
        "relay_command_open": False,
        "pre_trip_alarm": False,
        "meter_type": "money prepaid",
    }
    closed = codec.decode_run_status_3(0x00C0)
    assert (closed["relay_open"], closed["relay_command_open"], closed["pre_trip_alarm"]) == (
        False,
        True,
        True,
    )
    assert closed["meter_type"] == "not prepaid"


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decimals", "signed", "value"),
    [
        (hx("34 12 00"), 3, True, Decimal("1.234")),  # current XXX.XXX
        (hx("34 12 80"), 3, True, Decimal("-1.234")),  # sign in the top bit of the MSB
        (hx("00 50 80"), 4, True, Decimal("-0.5000")),  # power XX.XXXX kW, exported
        (hx("00 85"), 3, True, Decimal("-0.500")),  # power factor X.XXX, capacitive
        (hx("00 80"), 1, False, Decimal("800.0")),  # unsigned: the top bit is a digit
        (hx("56 34 12 00"), 2, False, Decimal("1234.56")),  # energy XXXXXX.XX
        (hx("00 00 80"), 3, True, Decimal("0.000")),  # negative zero is zero
    ],
)
def test_bcd_numbers(raw: bytes, decimals: int, signed: bool, value: Decimal) -> None:
    assert codec.decode_number(raw, decimals, signed) == value
    assert codec.encode_number(value, len(raw), decimals, signed) == (
        raw if value or not signed else raw[:-1] + bytes([raw[-1] & 0x7F])
    )


def test_bcd_rejects_hex_digits_and_values_that_do_not_fit() -> None:
    with pytest.raises(FrameError, match="not BCD"):
        codec.decode_number(hx("1A 00"), 1, False)
    with pytest.raises(ValueError, match="does not fit"):
        codec.encode_number(Decimal("1000.0"), 2, 1, False)
    with pytest.raises(ValueError, match="does not fit"):
        codec.encode_number(Decimal("80.0000"), 3, 4, True)  # the sign bit takes the 8
    with pytest.raises(ValueError, match="no sign"):
        codec.encode_number(Decimal("-1"), 2, 1, False)
    assert codec.encode_number(220.25, 2, 1, False) == hx("03 22")  # half-up, not banker's


@given(
    units=st.integers(min_value=-(8 * 10**5 - 1), max_value=8 * 10**5 - 1),
    decimals=st.integers(min_value=0, max_value=4),
)
def test_signed_numbers_round_trip(units: int, decimals: int) -> None:
    value = Decimal(units).scaleb(-decimals)
    raw = codec.encode_number(value, 3, decimals, True)
    assert codec.decode_number(raw, decimals, True) == value


def test_dates_and_times() -> None:
    sunday = date(2024, 6, 2)
    assert codec.encode_date(sunday) == hx("00 02 06 24")  # WW DD MM YY, 0 = Sunday
    assert codec.encode_date(date(2024, 6, 3)) == hx("01 03 06 24")
    assert codec.decode_date(hx("00 02 06 24")) == sunday
    assert codec.encode_time(time(23, 59, 58)) == hx("58 59 23")
    assert codec.decode_time(hx("58 59 23")) == time(23, 59, 58)
    with pytest.raises(FrameError):
        codec.decode_date(hx("00 31 02 24"))  # 31 February
    with pytest.raises(FrameError):
        codec.decode_time(hx("00 60 12"))
    with pytest.raises(ValueError, match="2000-2099"):
        codec.encode_date(date(2100, 1, 1))


def test_credentials_are_sent_least_significant_first() -> None:
    assert codec.encode_password("02123456") == hx("02 56 34 12")
    assert codec.encode_operator("12345678") == hx("78 56 34 12")
    with pytest.raises(ValueError, match="8 hex digits"):
        codec.encode_password("0212")


def test_addresses() -> None:
    assert codec.normalize_address(" 161 ") == "000000000161"
    assert codec.encode_address("123456789012") == hx("12 90 78 56 34 12")
    assert codec.address_matches("AAAAAAAAAA12", "000000000012")
    assert not codec.address_matches("AAAAAAAAAA12", "000000000013")
    for bad in ("1234567890123", "12ab", ""):
        with pytest.raises(ValueError, match="not a DL/T 645 address"):
            codec.normalize_address(bad)


# --- fuzzing: any bytes give a value or one of our errors ---------------------------------

VALID_FRAMES = [
    hx(HAND_VOLTAGE_REPLY),
    hx(PUBLISHED_ENERGY_REPLY),
    hx(HAND_READ_VOLTAGE),
    codec.relay_request(
        "000000000001", "02000000", "00000000", RelayAction.TRIP, datetime(2026, 1, 1)
    ),
    codec.error_reply_frame("000000000001", Function.RELAY, b"\x0c\x00"),
]


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(VALID_FRAMES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "length"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "cut":
            del raw[at:]
        elif kind == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif len(raw) > 13:
            raw[13 if raw[0] == 0xFE else 9] = draw(st.integers(min_value=0, max_value=255))
    return bytes(raw)


def decode_everything(raw: bytes) -> None:
    """Every decoder in turn; only our errors may escape."""
    for decode in (
        lambda: codec.frame_length(raw),
        lambda: codec.decode_number(raw, 2, True),
        lambda: codec.decode_number(raw, 0, False),
        lambda: codec.decode_date(raw[:4]),
        lambda: codec.decode_time(raw[:3]),
        lambda: codec.decode_datetime6(raw[:6]),
        lambda: codec.decode_word(raw),
        lambda: codec.describe_error(raw),
        lambda: codec.describe_error(raw, relay=True),
        *(lambda item=item: item.decode(raw[: item.length]) for item in di_table().values()),
    ):
        with contextlib.suppress(FieldFault):
            decode()
    try:
        frame = codec.decode_frame(raw)
    except FieldFault:
        return
    for function in (Function.READ, Function.READ_FOLLOW, Function.RELAY, Function.READ_ADDRESS):
        for check in (
            lambda f=function: codec.check_reply(frame, function=f, address="000000000001"),
            lambda: codec.parse_read_reply(frame, 0x02010100),
            lambda: codec.parse_follow_reply(frame, 0x02010100, 1),
            lambda: codec.parse_address_reply(frame),
        ):
            with contextlib.suppress(FieldFault):
                check()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
@example(b"\xfe" * 20)
@example(b"\x68" * 12)
def test_random_bytes_raise_only_our_errors(raw: bytes) -> None:
    decode_everything(raw)


@settings(max_examples=400)
@given(mutated_frames())
def test_mutated_frames_raise_only_our_errors(raw: bytes) -> None:
    decode_everything(raw)


@given(st.sampled_from(VALID_FRAMES), st.integers(min_value=0, max_value=40))
def test_a_corrupted_checksum_is_always_caught(raw: bytes, wake: int) -> None:
    broken = bytearray(b"\xfe" * wake + raw)
    broken[-2] ^= 0x5A
    with pytest.raises(ChecksumError):
        codec.decode_frame(bytes(broken))
