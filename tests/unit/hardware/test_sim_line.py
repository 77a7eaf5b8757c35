"""The sim:// line: requests reach the simulated meters, replies arrive paced by the baud rate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import serial

from app.hardware import transport  # registers the sim:// handler
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimMeter
from tests.unit.hardware.toy_protocol import SPEC, frame, toy_profile

assert transport.SIM_HANDLERS in serial.protocol_handler_packages


@pytest.fixture
def line() -> Iterator[SimLine]:
    profile = toy_profile(delay_s=0.2)
    meters = {a: SimMeter(a, profile, seed=1) for a in ("1", "2")}
    sim = register_line(SimLine("toy-line", [Answerer(SPEC, meters)]))
    yield sim
    unregister_line("toy-line")


def test_a_request_gets_its_reply_after_the_delay(line: SimLine) -> None:
    port = serial.serial_for_url("sim://toy-line", baudrate=19200, timeout=0.01)
    try:
        port.write(frame(1, 0x01))
        port.flush()
        assert port.read(8) == b""  # the meter is still thinking (200 ms reply delay)
        assert port.in_waiting == 0
        port.timeout = 2
        reply = port.read(8)
        assert len(reply) == 8
        assert reply[:3] == bytes([0x7E, 1, 0x81])
        assert line.requests == 1
    finally:
        port.close()


def test_bytes_split_across_writes_still_make_one_request(line: SimLine) -> None:
    port = serial.serial_for_url("sim://toy-line", baudrate=19200, timeout=2)
    try:
        request = frame(2, 0x01)
        port.write(request[:2])
        port.write(request[2:])
        assert port.read(8)[:3] == bytes([0x7E, 2, 0x81])
    finally:
        port.close()


def test_garbage_before_a_frame_is_skipped_and_unknown_addresses_get_no_reply(
    line: SimLine,
) -> None:
    port = serial.serial_for_url("sim://toy-line", baudrate=19200, timeout=0.4)
    try:
        port.write(b"\x00\x13" + frame(1, 0x01))
        assert port.read(8)[:2] == bytes([0x7E, 1])
        port.write(frame(9, 0x01))
        assert port.read(8) == b""
    finally:
        port.close()


def test_an_unknown_line_is_refused_with_a_hint() -> None:
    with pytest.raises(serial.SerialException, match="no simulated line named 'nowhere'"):
        serial.serial_for_url("sim://nowhere")


def test_a_url_naming_an_unknown_profile_is_refused() -> None:
    with pytest.raises(serial.SerialException, match="unknown meter profile 'nonexistent'"):
        serial.serial_for_url("sim://toy-url?profile=nonexistent", timeout=0.1)
