"""Every Modbus decoder, fed random and mutated bytes, raises nothing but our wire faults
(and the responder never raises at all: a simulated slave stays silent or answers)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from app.hardware.errors import FieldFault, FrameError
from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.modbus.registers import RegisterValue, decode_value
from app.hardware.modbus.responder import ModbusResponder
from app.hardware.simulator.sim_meter import SimClock, SimMeter
from tests.unit.hardware.modbus.modbus_loopback import shipped_profile

REQUESTS = [
    mb.Request(1, 3, 0x0000, 10),
    mb.Request(7, 4, 0x0000, 2),
    mb.Request(1, 6, 0x001A, values=(1,)),
    mb.Request(1, 16, 0x0057, values=(1, 1)),
]
GOOD_REPLIES = [
    mb.rtu_encode_read_reply(1, 3, list(range(10))),
    mb.rtu_encode_read_reply(7, 4, [0x4366, 0x3334]),
    mb.rtu_encode_write_reply(1, 6, 0x001A, [1]),
    mb.rtu_encode_write_reply(1, 16, 0x0057, [1, 1]),
    mb.rtu_encode_exception(1, 3, 2),
]


def only_our_faults(call: Callable[[], object]) -> None:
    with contextlib.suppress(FieldFault):
        call()


@st.composite
def mutated(draw: st.DrawFn, frames: list[bytes]) -> bytes:
    """A good frame with bytes flipped, cut, inserted or appended."""
    frame = bytearray(draw(st.sampled_from(frames)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "append"]))
        position = draw(st.integers(min_value=0, max_value=max(0, len(frame) - 1)))
        if action == "flip" and frame:
            frame[position] ^= draw(st.integers(min_value=1, max_value=255))
        elif action == "cut":
            del frame[position:]
        elif action == "insert":
            frame.insert(position, draw(st.integers(min_value=0, max_value=255)))
        else:
            frame.extend(draw(st.binary(max_size=8)))
    return bytes(frame)


ANY_BYTES = st.binary(max_size=300)
RESPONDER = ModbusResponder(
    {"1": SimMeter("1", shipped_profile("hiking-dds238"), clock=SimClock(scale=0.0))}
)
RTU_FRAMES = st.one_of(ANY_BYTES, mutated(GOOD_REPLIES))


@settings(max_examples=400)
@given(RTU_FRAMES, st.sampled_from(REQUESTS))
def test_rtu_reply_decoding(frame: bytes, request: mb.Request) -> None:
    only_our_faults(lambda: mb.rtu_reply_length(frame))
    only_our_faults(lambda: mb.rtu_decode_reply(frame, request))


@settings(max_examples=400)
@given(
    st.one_of(ANY_BYTES, mutated([mb.tcp_encode_request(r, 5) for r in REQUESTS])),
    st.sampled_from(REQUESTS),
)
def test_mbap_reply_decoding(frame: bytes, request: mb.Request) -> None:
    only_our_faults(lambda: mb.tcp_reply_length(frame))
    only_our_faults(lambda: mb.tcp_decode_reply(frame, request, 5))


@settings(max_examples=400)
@given(st.one_of(ANY_BYTES, mutated([mb.rtu_encode_request(r) for r in REQUESTS])))
def test_request_decoding_and_the_responder(frame: bytes) -> None:
    only_our_faults(lambda: mb.rtu_request_length(frame))
    only_our_faults(lambda: mb.rtu_decode_request(frame))
    reply = RESPONDER.handle(frame)  # must not raise
    if reply is not None:
        assert mb.rtu_reply_length(reply) == len(reply)


@given(
    st.sampled_from(["uint16", "int16", "uint32", "int32", "float32"]),
    st.lists(st.integers(min_value=0, max_value=0xFFFF), min_size=0, max_size=3),
)
def test_value_decoding(kind: str, registers: list[int]) -> None:
    from decimal import Decimal

    spec = RegisterValue("x", 3, 0, kind, Decimal("0.1"), "little")
    try:
        value = decode_value(spec, registers)
    except FrameError:
        return
    assert value == value  # a number, never NaN
