"""CJ/T 188 codec: frames built by the rules and frames published by others decode to known
values; checksums, error replies and reply checks; every decoder raises only our errors."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.hardware.cjt188 import codec
from app.hardware.cjt188.codec import (
    ANY_TYPE,
    DI_ADDRESS,
    DI_METER_DATA,
    DI_VALVE,
    READ_ADDRESS,
    READ_DATA,
    UNIT_LITRE,
    UNIT_M3,
    WILDCARD,
    WRITE_DATA,
    Flow,
    Valve,
    build_error_reply,
    build_reply,
    build_request,
    check_reply,
    decode_frame,
    decode_meter_data,
    decode_status,
    encode_frame,
    encode_meter_data,
    encode_status,
    frame_length,
    split_data,
)
from app.hardware.errors import (
    AddressMismatch,
    ChecksumError,
    CommandRefused,
    ExceptionReply,
    FieldFault,
    FrameError,
)

# Frames published with the Fox-Edge CJT188 decoders (Demo.java, CJT188ProtocolGetData.java):
# their checksums were computed by a third party, so they check our checksum rule too.
FOX_READ_REQUEST = "68 10 01 00 00 05 08 00 00 01 03 1F 90 00 39 16"
FOX_READ_REPLY = (
    "FE FE FE 68 10 01 00 00 05 08 00 00 81 16 90 1F 00 00 23 01 00 2C 00 00 00 00 2C"
    " 00 00 00 00 00 00 00 00 00 48 16"
)
FOX_READ_REPLY_TIMED = (
    "68 10 44 33 22 11 00 33 78 81 16 1F 90 00 00 77 66 55 2C 00 77 66 55 2C"
    " 31 01 22 11 05 15 20 21 84 13 16"
)
FOX_READ_ADDRESS = "68 AA AA AA AA AA AA AA AA 03 03 81 0A 00 49 16"
FOX_VALVE_OPEN = "FE FE FE 68 10 01 00 00 05 08 00 00 2A 04 A0 17 00 55 C0 16"
FOX_VALVE_CLOSE = "FE FE FE 68 10 01 00 00 05 08 00 00 2A 04 A0 17 00 99 04 16"
FOX_VALVE_REPLY = "FE FE FE 68 10 01 00 00 05 08 00 00 AA 05 A0 17 00 01 FF EC 16"
FOX_ADDRESS = "00000805000001"  # wire bytes 01 00 00 05 08 00 00, least significant first


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- known frames -------------------------------------------------------------------------


def test_read_request_matches_published_frame() -> None:
    frame = build_request(
        0x10, FOX_ADDRESS, READ_DATA, DI_METER_DATA, 0, high_first=False, wake_up=0
    )
    assert frame == h(FOX_READ_REQUEST)


def test_read_address_request_matches_published_frame() -> None:
    frame = build_request(ANY_TYPE, WILDCARD, READ_ADDRESS, DI_ADDRESS, 0, high_first=True)
    assert frame == h(FOX_READ_ADDRESS)
    assert decode_frame(frame).address == WILDCARD


@pytest.mark.parametrize(("code", "text"), [(0x55, FOX_VALVE_OPEN), (0x99, FOX_VALVE_CLOSE)])
def test_vendor_valve_request_matches_published_frame(code: int, text: str) -> None:
    frame = build_request(0x10, FOX_ADDRESS, 0x2A, DI_VALVE, 0, bytes([code]), wake_up=3)
    assert frame == h(text)


def test_published_read_reply_decodes_to_known_values() -> None:
    frame = decode_frame(h(FOX_READ_REPLY))
    assert (frame.meter_type, frame.address, frame.control) == (0x10, FOX_ADDRESS, 0x81)
    di, ser, payload = split_data(frame, high_first=True)
    assert (di, ser) == (DI_METER_DATA, 0)
    data = decode_meter_data(payload, 0x10)
    assert data.flow == Flow(12300, UNIT_M3)  # 00 23 01 00 = 000123.00, least significant first
    assert data.flow.m3 == pytest.approx(123.0)
    assert data.meter_time is None  # the meter's clock field is all zeros
    assert data.status.valve is Valve.OPEN


def test_published_reply_with_time_and_low_first_di() -> None:
    frame = decode_frame(h(FOX_READ_REPLY_TIMED))
    assert frame.address == "78330011223344"
    di, _, payload = split_data(frame, high_first=False)
    assert di == DI_METER_DATA
    data = decode_meter_data(payload, 0x10)
    assert data.flow.hundredths == 55667700
    assert data.meter_time == datetime(2015, 5, 11, 22, 1, 31)
    assert data.status.raw == b"\x21\x84"


def test_published_valve_reply_decodes() -> None:
    frame = decode_frame(h(FOX_VALVE_REPLY))
    assert frame.is_reply
    assert not frame.is_error
    assert frame.function == 0x2A
    payload = check_reply(
        frame, function=0x2A, address=FOX_ADDRESS, di=DI_VALVE, ser=0, high_first=True, what="x"
    )
    assert decode_status(payload).valve is Valve.CLOSED


def test_frame_built_by_the_rules() -> None:
    """68 T A0..A6 C L data CS 16, checksum over 68..last data byte, address LSB first."""
    raw = encode_frame(0x30, "12345678901234", 0x81, b"\x01\x02", wake_up=2)
    body = [0x68, 0x30, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x81, 0x02, 0x01, 0x02]
    assert raw == bytes([0xFE, 0xFE, *body, sum(body) % 256, 0x16])
    assert frame_length(raw) == len(raw)
    frame = decode_frame(raw)
    assert (frame.meter_type, frame.address, frame.control, frame.data) == (
        0x30,
        "12345678901234",
        0x81,
        b"\x01\x02",
    )


@pytest.mark.parametrize("wake", [0, 1, 4, 40])
def test_any_number_of_wake_up_bytes(wake: int) -> None:
    raw = encode_frame(0x10, "00000000000001", 0x01, b"\x90\x1f\x00", wake_up=wake)
    assert frame_length(raw) == len(raw)
    assert decode_frame(raw).address == "00000000000001"


def test_frame_length_waits_for_header() -> None:
    raw = encode_frame(0x10, "00000000000001", 0x01, b"\x90\x1f\x00", wake_up=3)
    for cut in range(len(raw)):
        got = frame_length(raw[:cut])
        assert got is None or got == len(raw)
    assert frame_length(b"") is None
    assert frame_length(b"\xfe\xfe") is None
    with pytest.raises(FrameError):
        frame_length(b"\xfe\x00")


def test_meter_data_round_trip_water_and_heat() -> None:
    when = datetime(2026, 3, 9, 7, 5, 59)
    status = encode_status(Valve.CLOSED, low_battery=True)
    for meter_type in (0x10, 0x11, 0x20, 0x30):
        payload = encode_meter_data(
            Flow(123456, UNIT_LITRE), Flow(100000, UNIT_LITRE), when, status, meter_type
        )
        heat = meter_type == 0x20
        assert len(payload) == (codec.HEAT_DATA_LEN if heat else codec.WATER_DATA_LEN)
        data = decode_meter_data(payload + b"\x00\x00", meter_type)  # vendor bytes after
        assert data.flow.m3 == pytest.approx(1.23456)
        assert data.meter_time == when
        assert data.status.valve is Valve.CLOSED
        assert data.status.low_battery
        assert data.settlement == (None if heat else Flow(100000, UNIT_LITRE))


def test_time_is_sent_seconds_first_with_century_last() -> None:
    assert codec.encode_time(datetime(2026, 11, 27, 18, 30, 5)) == h("05 30 18 27 11 26 20")
    with pytest.raises(FrameError):
        codec.decode_time(h("00 00 00 00 00 00 00"))
    with pytest.raises(FrameError):
        codec.decode_time(h("00 61 00 01 01 26 20"))  # minute 61


# --- units, status bits -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "m3"),
    [(UNIT_LITRE, 0.12345), (UNIT_M3, 123.45), (0x32, None), (0x05, None), (0x00, None)],
)
def test_flow_units(unit: int, m3: float | None) -> None:
    flow = Flow(12345, unit)
    assert flow.m3 == (None if m3 is None else pytest.approx(m3))


@pytest.mark.parametrize(
    ("layout", "first", "valve", "low_battery"),
    [
        ("low_bits", 0x00, Valve.OPEN, False),
        ("low_bits", 0x01, Valve.CLOSED, False),
        ("low_bits", 0x03, Valve.FAULT, False),
        ("low_bits", 0x02, Valve.FAULT, False),
        ("low_bits", 0x04, Valve.OPEN, True),
        ("low_bits", 0xF8, Valve.OPEN, False),  # vendor bits D3-D7 do not leak
        ("high_bits", 0x40, Valve.CLOSED, False),
        ("high_bits", 0xC0, Valve.FAULT, False),
        ("high_bits", 0x20, Valve.OPEN, True),
        ("high_bits", 0x1F, Valve.OPEN, False),
    ],
)
def test_status_bits(layout: str, first: int, valve: Valve, low_battery: bool) -> None:
    status = decode_status(bytes([first, 0xFF]), layout)
    assert (status.valve, status.low_battery) == (valve, low_battery)


@pytest.mark.parametrize("layout", ["low_bits", "high_bits"])
@pytest.mark.parametrize("valve", list(Valve))
@pytest.mark.parametrize("low_battery", [False, True])
def test_status_round_trip(layout: str, valve: Valve, low_battery: bool) -> None:
    status = decode_status(encode_status(valve, low_battery, layout), layout)
    assert (status.valve, status.low_battery) == (valve, low_battery)
    assert status.as_dict()["valve_fault"] is (valve is Valve.FAULT)


# --- reply checks and error replies -------------------------------------------------------

ADDRESS = "00000091113480"


def _request(control: int = READ_DATA, di: int = DI_METER_DATA, ser: int = 7) -> codec.Frame:
    return decode_frame(build_request(0x10, ADDRESS, control, di, ser))


def test_check_reply_returns_payload() -> None:
    reply = decode_frame(build_reply(_request(), 0x10, ADDRESS, b"\x01\x02"))
    payload = check_reply(
        reply,
        function=READ_DATA,
        address=ADDRESS,
        di=DI_METER_DATA,
        ser=7,
        high_first=True,
        what="",
    )
    assert payload == b"\x01\x02"


def test_error_reply_to_a_read_is_an_exception_reply() -> None:
    status = encode_status(Valve.OPEN, low_battery=True)
    reply = decode_frame(build_error_reply(_request(), 0x10, ADDRESS, status))
    assert reply.control == 0xC1
    with pytest.raises(ExceptionReply) as caught:
        check_reply(
            reply,
            function=READ_DATA,
            address=ADDRESS,
            di=DI_METER_DATA,
            ser=7,
            high_first=True,
            what="read of DI 901F",
        )
    assert not isinstance(caught.value, CommandRefused)
    assert caught.value.code == 0x0004
    assert "refused the read of DI 901F" in str(caught.value)


def test_error_reply_to_a_write_is_a_command_refused() -> None:
    request = _request(WRITE_DATA, DI_VALVE)
    reply = decode_frame(build_error_reply(request, 0x10, ADDRESS, b"\x00\x00"))
    assert reply.control == 0xC4
    with pytest.raises(CommandRefused, match="refused the valve close command"):
        check_reply(
            reply,
            function=WRITE_DATA,
            address=ADDRESS,
            di=DI_VALVE,
            ser=7,
            high_first=True,
            what="valve close command",
        )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"address": "00000091113481"}, AddressMismatch),
        ({"di": 0x9020}, FrameError),
        ({"ser": 8}, FrameError),
        ({"function": WRITE_DATA}, FrameError),
    ],
)
def test_check_reply_rejects(change: dict[str, object], error: type[Exception]) -> None:
    reply = decode_frame(build_reply(_request(), 0x10, ADDRESS, b""))
    args: dict[str, object] = {
        "function": READ_DATA,
        "address": ADDRESS,
        "di": DI_METER_DATA,
        "ser": 7,
        **change,
    }
    with pytest.raises(error):
        check_reply(reply, high_first=True, what="", **args)  # type: ignore[arg-type]


def test_a_request_is_not_a_reply() -> None:
    with pytest.raises(FrameError):
        check_reply(
            _request(), function=READ_DATA, address=ADDRESS, di=DI_METER_DATA, ser=7,
            high_first=True, what="",
        )  # fmt: skip


def test_checksum_error() -> None:
    raw = bytearray(h(FOX_READ_REPLY))
    raw[-2] ^= 0x5A
    with pytest.raises(ChecksumError):
        decode_frame(bytes(raw))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "FE FE",
        "68 10",
        "69" + FOX_READ_REQUEST[2:],  # wrong start
        FOX_READ_REQUEST[:-2] + "17",  # wrong end
        FOX_READ_REQUEST + " 00",  # longer than its length byte
        "68 10 01 00 00 05 08 00 00 01 03 1F 90 00 39",  # shorter
        "68 10 0A 00 00 05 08 00 00 01 03 1F 90 00 42 16",  # address not BCD
    ],
)
def test_malformed_frames(raw: str) -> None:
    with pytest.raises(FrameError):
        decode_frame(h(raw))


def test_address_and_bcd_helpers() -> None:
    assert codec.encode_address("00000091113480") == h("80 34 11 91 00 00 00")
    assert codec.normalise_address("91113480") == "00000091113480"
    assert codec.normalise_address("aaaaaaaaaaaaaa") == WILDCARD
    for bad in ("", "1" * 15, "12a4", "１２"):
        with pytest.raises(ValueError, match="decimal digits"):
            codec.normalise_address(bad)
    with pytest.raises(ValueError, match="14 decimal digits"):
        codec.encode_address("123")
    assert codec.bcd_encode(12345678, 4) == h("78 56 34 12")
    with pytest.raises(ValueError, match="does not fit"):
        codec.bcd_encode(10**8, 4)
    with pytest.raises(ValueError, match="255"):
        encode_frame(0x10, ADDRESS, 1, bytes(256))


# --- property tests -----------------------------------------------------------------------

addresses = st.text(alphabet="0123456789", min_size=14, max_size=14)
frames = st.builds(
    lambda t, a, c, d, w: encode_frame(t, a, c, d, wake_up=w),
    st.integers(0, 255),
    addresses | st.just(WILDCARD),
    st.integers(0, 255),
    st.binary(max_size=64),
    st.integers(0, 5),
)


@given(frames)
def test_every_frame_round_trips(raw: bytes) -> None:
    assert frame_length(raw) == len(raw)
    frame = decode_frame(raw)
    wake = len(raw) - len(raw.lstrip(b"\xfe"))
    assert (
        encode_frame(frame.meter_type, frame.address, frame.control, frame.data, wake_up=wake)
        == raw
    )


@given(frames, st.data())
def test_any_single_byte_change_is_detected(raw: bytes, data: st.DataObject) -> None:
    start = len(raw) - len(raw.lstrip(b"\xfe"))
    at = data.draw(st.integers(start, len(raw) - 1))
    flip = data.draw(st.integers(1, 255))
    broken = bytearray(raw)
    broken[at] ^= flip
    with pytest.raises(FrameError):
        decode_frame(bytes(broken))


@given(st.integers(0, 10**8 - 1))
def test_bcd_round_trip(value: int) -> None:
    assert codec.bcd_decode(codec.bcd_encode(value, 4)) == value


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_time_round_trip(when: datetime) -> None:
    when = when.replace(microsecond=0)
    assert codec.decode_time(codec.encode_time(when)) == when


def _only_our_errors(call: object, *args: object) -> None:
    assert callable(call)
    with contextlib.suppress(FieldFault):
        call(*args)


@given(st.binary(max_size=80))
def test_decoders_raise_only_our_errors_on_random_bytes(raw: bytes) -> None:
    _only_our_errors(decode_frame, raw)
    _only_our_errors(frame_length, raw)
    _only_our_errors(codec.decode_address, raw)
    _only_our_errors(codec.decode_time, raw)
    _only_our_errors(codec.bcd_decode, raw)
    _only_our_errors(Flow.decode, raw)
    _only_our_errors(decode_status, raw)
    _only_our_errors(decode_status, raw, "high_bits")
    for meter_type in (0x10, 0x20, 0x30, 0x99):
        _only_our_errors(decode_meter_data, raw, meter_type)


@given(frames, st.data())
def test_reply_checks_raise_only_our_errors(raw: bytes, data: st.DataObject) -> None:
    frame = decode_frame(raw)
    _only_our_errors(split_data, frame, data.draw(st.booleans()))
    _only_our_errors(
        lambda: check_reply(
            frame,
            function=data.draw(st.sampled_from([READ_DATA, READ_ADDRESS, WRITE_DATA, 0x2A])),
            address=data.draw(st.just(frame.address) | addresses),
            di=data.draw(st.sampled_from([DI_METER_DATA, DI_VALVE, DI_ADDRESS])),
            ser=data.draw(st.none() | st.integers(0, 255)),
            high_first=data.draw(st.booleans()),
            what="read",
        )
    )


valid_replies = st.builds(
    lambda a, ser, volume, t, st_bytes, w: build_reply(
        decode_frame(build_request(0x10, a, READ_DATA, DI_METER_DATA, ser)),
        0x10,
        a,
        encode_meter_data(Flow(volume, UNIT_M3), Flow(volume, UNIT_M3), t, st_bytes, 0x10),
        wake_up=w,
    ),
    addresses,
    st.integers(0, 255),
    st.integers(0, 10**8 - 1),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.binary(min_size=2, max_size=2),
    st.integers(0, 3),
)


@given(valid_replies, st.data())
def test_mutated_replies_raise_only_our_errors(raw: bytes, data: st.DataObject) -> None:
    mutated = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        at = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "replace" and mutated:
            mutated[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            mutated.insert(at, data.draw(st.integers(0, 255)))
        elif action == "delete" and mutated:
            del mutated[at]
        else:
            del mutated[at:]
    raw = bytes(mutated)
    _only_our_errors(frame_length, raw)

    def full_decode() -> None:
        frame = decode_frame(raw)
        payload = check_reply(
            frame,
            function=READ_DATA,
            address=frame.address,
            di=DI_METER_DATA,
            ser=None,
            high_first=True,
            what="read",
        )
        decode_meter_data(payload, 0x10)

    _only_our_errors(full_decode)
