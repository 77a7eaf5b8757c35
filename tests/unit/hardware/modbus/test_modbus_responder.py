"""Our simulator's Modbus RTU slave: what it answers, what it refuses, what it ignores."""

from __future__ import annotations

import pytest

from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.modbus.registers import compile_map
from app.hardware.modbus.responder import ModbusResponder, register_image
from app.hardware.simulator.sim_meter import SimClock, SimMeter
from tests.unit.hardware.modbus.modbus_loopback import shipped_profile


def meter(name: str, address: str) -> SimMeter:
    return SimMeter(address, shipped_profile(name), clock=SimClock(scale=0.0))


@pytest.fixture
def line() -> dict[str, SimMeter]:
    return {"1": meter("hiking-dds238", "1"), "2": meter("eastron-sdm120", "2")}


def ask(responder: ModbusResponder, request: mb.Request) -> mb.Reply:
    reply = responder.handle(mb.rtu_encode_request(request))
    assert reply is not None
    return mb.rtu_decode_reply(reply, request)


def test_reads_inside_a_batch_are_answered_unused_registers_as_zero(
    line: dict[str, SimMeter],
) -> None:
    responder = ModbusResponder(line)
    reply = ask(responder, mb.Request(2, 4, 0x0000, 32))
    assert len(reply.registers) == 32
    assert reply.registers[2:6] == (0, 0, 0, 0)  # 0x0002-0x0005 hold nothing we map


def test_unmapped_addresses_get_exception_02(line: dict[str, SimMeter]) -> None:
    responder = ModbusResponder(line)
    assert ask(responder, mb.Request(2, 4, 0x0100, 2)).exception_code == 2
    assert ask(responder, mb.Request(2, 4, 0x001E, 4)).exception_code == 2  # runs past the batch
    assert ask(responder, mb.Request(2, 3, 0x0000, 2)).exception_code == 2  # holding, not input


def test_bad_counts_get_exception_03(line: dict[str, SimMeter]) -> None:
    responder = ModbusResponder(line)
    for count in (0, 126):
        body = bytes([2, 4, 0, 0, 0, count])
        reply = responder.handle(body + mb.crc16(body))
        assert reply == mb.rtu_encode_exception(2, 4, 3)


def test_relay_register_switches_the_meter(line: dict[str, SimMeter]) -> None:
    responder = ModbusResponder(line)
    hiking = line["1"]
    assert ask(responder, mb.Request(1, 3, 0x001A, 1)).registers == (1,)
    assert not ask(responder, mb.Request(1, 16, 0x001A, values=(0,))).refused
    assert hiking.supply_on is False
    assert ask(responder, mb.Request(1, 3, 0x001A, 1)).registers == (0,)
    assert ask(responder, mb.Request(1, 16, 0x001A, values=(7,))).exception_code == 3
    assert hiking.supply_on is False
    # the Hiking meter does not implement FC06
    assert ask(responder, mb.Request(1, 6, 0x001A, values=(1,))).exception_code == 1
    assert hiking.supply_on is False
    assert ask(responder, mb.Request(1, 16, 0x0030, values=(1,))).exception_code == 2


def test_silent_on_bad_crc_unknown_units_and_broadcast_reads(line: dict[str, SimMeter]) -> None:
    responder = ModbusResponder(line)
    good = mb.rtu_encode_request(mb.Request(1, 3, 0x000C, 6))
    assert responder.handle(good[:-1] + bytes([good[-1] ^ 0xFF])) is None
    assert responder.handle(mb.rtu_encode_request(mb.Request(9, 3, 0x000C, 6))) is None
    assert responder.handle(mb.rtu_encode_request(mb.Request(0, 3, 0x000C, 6))) is None


def test_broadcast_write_switches_every_meter_without_a_reply() -> None:
    meters = {"1": meter("hiking-dds238", "1"), "3": meter("hiking-dds238", "3")}
    responder = ModbusResponder(meters)
    assert responder.handle(mb.rtu_encode_request(mb.Request(0, 16, 0x001A, values=(0,)))) is None
    assert [m.supply_on for m in meters.values()] == [False, False]


def test_register_image_encodes_the_state() -> None:
    sim = meter("acrel-ddsy1352", "4")
    sim.switch_on_heater(2000.0, 1.0)
    rmap = compile_map(sim.profile)
    image = register_image(sim, rmap, 3)
    state = sim.state()
    assert image[0x000D] == 2000  # int16 W (0.001 kW units)
    assert image[0x000B] == round(state.voltage_v * 10)
    assert (image[0x0057], image[0x0058]) == (1, 0)  # relay closed
    assert (image[0x0000] << 16 | image[0x0001]) == round(state.energy_import_kwh * 100)
    assert register_image(sim, rmap, 4) == {}
