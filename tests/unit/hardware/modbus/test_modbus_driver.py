"""The Modbus driver against our responder over loopback links (RTU and MBAP), and against
scripted misbehaving meters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from app.hardware.driver import SUPPLY_GROUP
from app.hardware.errors import (
    AddressMismatch,
    CommandRefused,
    ExceptionReply,
    FieldFault,
    NoReply,
)
from app.hardware.modbus import SPEC
from app.hardware.modbus import pymodbus_adapter as mb
from app.hardware.modbus.driver import LATE_REPLIES_SKIPPED, ModbusDriver, unit_id
from app.hardware.modbus.responder import ModbusResponder
from app.hardware.simulator.sim_meter import SimClock, SimMeter
from tests.support import MODBUS_PROFILES
from tests.unit.hardware.modbus.modbus_loopback import (
    loopback_link,
    mbap_gateway,
    profile_from_text,
    shipped_profile,
)

BOTH = frozenset({"fast", "slow", SUPPLY_GROUP})


def frozen_meter(profile_name: str, address: str = "7") -> SimMeter:
    """A simulated meter whose time stands still, with a 1.5 kW heater on."""
    meter = SimMeter(address, shipped_profile(profile_name), clock=SimClock(scale=0.0), seed=3)
    meter.switch_on_heater(1500.0, 0.99)
    return meter


def resolution(profile_name: str, value: str) -> float:
    """The step of an integer register in SI units (0 for floats, which carry the value)."""
    table = shipped_profile(profile_name).values[value]
    return 0.0 if table["type"] == "float32" else float(table.get("scale", "1"))


@pytest.mark.parametrize("mbap", [False, True], ids=["rtu", "mbap"])
@pytest.mark.parametrize("name", MODBUS_PROFILES)
def test_driver_reads_what_the_simulated_meter_measures(name: str, mbap: bool) -> None:
    meter = frozen_meter(name)
    responder = ModbusResponder({"7": meter})
    answer = mbap_gateway(responder.handle) if mbap else responder.handle
    link, port = loopback_link(answer, mbap=mbap)
    driver = ModbusDriver(meter.profile)
    result = driver.read(link, "7", BOTH)
    state = meter.state()
    assert result.failures == []
    expected = {
        "voltage_v": state.voltage_v,
        "current_a": state.current_a,
        "power_w": state.power_w,
        "power_factor": state.power_factor,
        "energy_import_kwh": state.energy_import_kwh,
    }
    for value, want in expected.items():
        step = resolution(name, value)
        assert result.values[value] == pytest.approx(want, rel=1e-6, abs=step / 2 + 1e-9), value
    assert state.power_w == 1500.0
    assert set(result.values) == set(meter.profile.values)
    assert result.supply_on is (True if meter.profile.supply else None)
    assert len(port.written) == len(driver.map.batches) + (1 if meter.profile.supply else 0)


def test_fast_polls_read_only_fast_batches() -> None:
    meter = frozen_meter("eastron-sdm120")
    link, port = loopback_link(ModbusResponder({"7": meter}).handle)
    result = ModbusDriver(meter.profile).read(link, "7", frozenset({"fast", SUPPLY_GROUP}))
    assert "energy_import_kwh" not in result.values
    assert {"voltage_v", "power_w", "frequency_hz"} <= set(result.values)
    read_addresses = sorted(mb.rtu_decode_request(frame).address for frame in port.written)
    assert read_addresses == [0x0000, 0x0046]


def test_relay_switches_and_reads_back() -> None:
    meter = frozen_meter("hiking-dds238")
    link, port = loopback_link(ModbusResponder({"7": meter}).handle)
    driver = ModbusDriver(meter.profile)
    driver.set_supply(link, "7", on=False)
    assert port.written[-1] == bytes.fromhex("07 10 00 1A 00 01 02 00 00") + mb.crc16(
        bytes.fromhex("07 10 00 1A 00 01 02 00 00")
    )
    assert meter.supply_on is False
    assert driver.read_supply(link, "7") is False
    assert driver.read(link, "7", BOTH).values["power_w"] == 0.0
    driver.set_supply(link, "7", on=True)
    assert driver.read_supply(link, "7") is True
    assert driver.read(link, "7", BOTH).values["power_w"] == pytest.approx(1500.0, abs=1)


def test_acrel_relay_uses_two_registers() -> None:
    meter = frozen_meter("acrel-ddsy1352")
    link, port = loopback_link(ModbusResponder({"7": meter}).handle)
    driver = ModbusDriver(meter.profile)
    driver.set_supply(link, "7", on=False)
    sent = mb.rtu_decode_request(port.written[-1])
    assert (sent.function, sent.address, sent.values) == (16, 0x0057, (1, 1))
    assert driver.read_supply(link, "7") is False
    driver.set_supply(link, "7", on=True)
    assert mb.rtu_decode_request(port.written[-1]).values == (1, 0)
    assert driver.read_supply(link, "7") is True


def scripted(
    handler: Callable[[mb.IncomingRequest], bytes | None],
) -> Callable[[bytes], bytes | None]:
    def answer(frame: bytes) -> bytes | None:
        return handler(mb.rtu_decode_request(frame))

    return answer


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (1, "illegal function"),
        (2, "illegal data address"),
        (3, "illegal data value"),
        (4, "server device failure"),
    ],
)
def test_a_refused_relay_command_names_the_exception(code: int, name: str) -> None:
    link, _ = loopback_link(
        scripted(lambda request: mb.rtu_encode_exception(request.unit, request.function, code))
    )
    driver = ModbusDriver(shipped_profile("hiking-dds238"))
    with pytest.raises(CommandRefused) as caught:
        driver.set_supply(link, "5", on=False)
    assert name in str(caught.value)
    assert "meter 5" in str(caught.value)
    assert "switch supply off" in str(caught.value)
    assert caught.value.code == code


def test_one_failed_batch_does_not_lose_the_others() -> None:
    meter = frozen_meter("eastron-sdm630")
    responder = ModbusResponder({"7": meter})

    def answer(frame: bytes) -> bytes | None:
        request = mb.rtu_decode_request(frame)
        if request.address == 0x0034:
            return None  # this read times out
        if request.address == 0x0048:
            return mb.rtu_encode_exception(request.unit, request.function, 4)
        return responder.handle(frame)

    link, _ = loopback_link(answer)
    result = ModbusDriver(meter.profile).read(link, "7", BOTH)
    assert result.values["voltage_v"] == pytest.approx(meter.state().voltage_v, rel=1e-6)
    assert "power_w" not in result.values
    assert "energy_import_kwh" not in result.values
    assert len(result.failures) == 2
    assert "0x0034" in result.failures[0]
    assert "no reply" in result.failures[0]
    assert "server device failure" in result.failures[1]


def late_replies_first(responder: ModbusResponder, late: int) -> Callable[[bytes], bytes]:
    """A line where ``late`` replies of unit 1 to the same request (a slow meter answering
    requests the master gave up on) arrive before the reply of the unit asked."""

    def answer(frame: bytes) -> bytes:
        stale = bytes([1]) + frame[1:-2]
        stale += mb.crc16(stale)
        return b"".join(responder.handle(stale) or b"" for _ in range(late)) + (
            responder.handle(frame) or b""
        )

    return answer


def test_late_replies_from_another_unit_are_skipped() -> None:
    meter = frozen_meter("eastron-sdm630")
    other = frozen_meter("eastron-sdm630", "1")
    other.switch_on_heater(3000.0, 0.99)  # reads differently from the unit asked
    link, port = loopback_link(
        late_replies_first(ModbusResponder({"7": meter, "1": other}), LATE_REPLIES_SKIPPED)
    )
    notes: list[str] = []
    link.on_frame = lambda record: notes.append(record.note)
    result = ModbusDriver(meter.profile).read(link, "7", BOTH)
    assert result.failures == []
    assert result.values["power_w"] == pytest.approx(meter.state().power_w, rel=1e-3)
    assert result.values["power_w"] != pytest.approx(other.state().power_w, rel=1e-3)
    batches = len(port.written)  # each request sent once: the late replies cost no resend
    assert sum("after a late reply from unit 1" in note for note in notes) == (
        batches * LATE_REPLIES_SKIPPED
    )


def test_more_late_replies_than_skipped_are_a_fault() -> None:
    meter = frozen_meter("eastron-sdm630")
    link, _ = loopback_link(
        late_replies_first(
            ModbusResponder({"7": meter, "1": frozen_meter("eastron-sdm630", "1")}),
            LATE_REPLIES_SKIPPED + 1,
        )
    )
    with pytest.raises(AddressMismatch, match="reply from unit 1, not from unit 7"):
        ModbusDriver(meter.profile).read(link, "7", BOTH)


def test_nothing_back_at_all_raises_the_fault() -> None:
    link, _ = loopback_link(lambda _frame: None)
    with pytest.raises(NoReply):
        ModbusDriver(shipped_profile("hiking-dds238")).read(link, "7", BOTH)


def test_every_batch_refused_raises_the_exception_reply() -> None:
    link, _ = loopback_link(
        scripted(lambda request: mb.rtu_encode_exception(request.unit, request.function, 2))
    )
    with pytest.raises(ExceptionReply, match="illegal data address"):
        ModbusDriver(shipped_profile("eastron-sdm120")).read(link, "7", BOTH)


def test_a_relay_state_that_is_neither_on_nor_off_is_a_fault() -> None:
    def answer(request: mb.IncomingRequest) -> bytes:
        return mb.rtu_encode_read_reply(request.unit, request.function, [7] * request.count)

    link, _ = loopback_link(scripted(answer))
    driver = ModbusDriver(shipped_profile("hiking-dds238"))
    with pytest.raises(FieldFault, match=r"shows supply state \[7\]"):
        driver.read_supply(link, "7")
    result = driver.read(link, "7", BOTH)  # values still come; the state is a failure
    assert result.supply_on is None
    assert any("supply state" in failure for failure in result.failures)


@pytest.mark.parametrize("address", ["0", "248", "abc", "", "1.5", "-3"])
def test_addresses_outside_1_to_247_are_refused(address: str) -> None:
    link, port = loopback_link(lambda _frame: None)
    driver = ModbusDriver(shipped_profile("eastron-sdm120"))
    with pytest.raises(ValueError, match="1 to 247"):
        driver.read(link, address, BOTH)
    with pytest.raises(ValueError, match="1 to 247"):
        driver.set_supply(link, address, on=True)
    assert port.written == []


def test_unit_id_accepts_decimal_text() -> None:
    assert unit_id("1") == 1
    assert unit_id(" 247 ") == 247


def test_probe_is_one_short_read() -> None:
    meter = frozen_meter("chint-ddsu666")
    link, port = loopback_link(ModbusResponder({"7": meter}).handle)
    driver = ModbusDriver(meter.profile)
    assert driver.probe(link, "7") is True
    (frame,) = port.written
    probe = mb.rtu_decode_request(frame)
    assert (probe.function, probe.address, probe.count) == (4, 0x2000, 2)
    with pytest.raises(NoReply):
        driver.probe(link, "8")
    refusing, _ = loopback_link(
        scripted(lambda request: mb.rtu_encode_exception(request.unit, request.function, 2))
    )
    assert driver.probe(refusing, "7") is False


def test_no_discovery_and_no_clock() -> None:
    link, port = loopback_link(lambda _frame: None)
    driver = ModbusDriver(shipped_profile("eastron-sdm630"))
    assert driver.discover(link) is None
    assert driver.read_clock(link, "1") is None
    driver.sync_clock(link, None, datetime(2026, 1, 1))
    assert port.written == []
    assert driver.read_supply(link, "1") is None
    with pytest.raises(CommandRefused, match="no relay"):
        driver.set_supply(link, "1", on=False)


PARAMETER_PROFILE = """
name = "test-meter"
protocol = "modbus-rtu"
utility = "electricity"
[line]
baudrate = 9600
[modbus]
function = 3
[modbus.parameters.power_limit_w]
address = 0x0100
type = "uint16"
scale = "10"
[modbus.parameters.alarm_balance]
address = 0x0102
type = "float32"
[values.power_w]
address = 0x0E
type = "int16"
"""


def test_parameters_are_written_and_read_back() -> None:
    profile = profile_from_text(PARAMETER_PROFILE)
    meter = SimMeter("9", profile, clock=SimClock(scale=0.0))
    link, port = loopback_link(ModbusResponder({"9": meter}).handle)
    driver = ModbusDriver(profile)
    driver.write_parameter(link, "9", "power_limit_w", 2200.0)
    sent = mb.rtu_decode_request(port.written[-1])
    assert (sent.function, sent.address, sent.values) == (16, 0x0100, (220,))
    assert meter.params["power_limit_w"] == 2200.0
    assert driver.read_parameter(link, "9", "power_limit_w") == 2200.0
    driver.write_parameter(link, "9", "alarm_balance", 12.5)
    assert driver.read_parameter(link, "9", "alarm_balance") == 12.5
    with pytest.raises(KeyError, match="power_limit_w, alarm_balance"):
        driver.write_parameter(link, "9", "tariff", 1.0)


def test_spec_wires_the_package_together() -> None:
    assert SPEC.name == "modbus-rtu"
    assert isinstance(SPEC.make_driver(shipped_profile("hiking-dds238")), ModbusDriver)
    assert SPEC.reply_length(bytes.fromhex("01 03 04")) == 9
    assert SPEC.request_length(bytes.fromhex("01 03")) == 8
    SPEC.validate(shipped_profile("acrel-ddsy1352"))
