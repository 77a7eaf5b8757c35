"""Modbus over a real serial line (two linked pseudo-terminals).

(a) our driver against our simulator (SimServer + Answerer + ModbusResponder), every profile;
(b) our driver against an independent slave: pymodbus's own serial server, configured from the
    public register maps of the Eastron SDM120 (FC04 input registers) and the Hiking DDS238
    (FC03 holding registers, relay at 0x001A) with pymodbus 3.16's SimDevice/SimData datastore,
    and the same datastore behind pymodbus's Modbus TCP server reached as a ``modbus-tcp://``
    gateway (MBAP framing);
(c) a noisy line (10% corrupted and 10% lost replies) still reads every healthy meter.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import serial
from pymodbus.framer import FramerType
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from app.hardware.driver import SUPPLY_GROUP
from app.hardware.errors import FieldFault
from app.hardware.link import LineSettings, Link
from app.hardware.modbus import SPEC, ModbusDriver
from app.hardware.profiles import Profile, load_profile
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine as SimLineOfMeters
from app.hardware.simulator.sim_line import register_line, unregister_line
from app.hardware.simulator.sim_meter import SimClock, SimFaults, SimMeter
from app.hardware.transport import open_link
from tests.support import MODBUS_PROFILES, open_pty_port, pty_pair, simulated_line

BOTH = frozenset({"fast", "slow", SUPPLY_GROUP})
HEATER_W = 1500.0


def frozen_meter(address: str, profile: Profile, reply_delay_s: float | None = None) -> SimMeter:
    """A meter whose simulated time stands still (its readings cannot move between the read and
    the check) with a resistive heater on."""
    meter = SimMeter(
        address,
        profile,
        clock=SimClock(scale=0.0),
        seed=int(address),
        reply_delay_s=reply_delay_s,
    )
    meter.switch_on_heater(HEATER_W, 0.99)
    return meter


def step(profile: Profile, value: str) -> float:
    """Half the resolution of an integer register in SI units (0 for floats)."""
    table = profile.values[value]
    return 0.0 if table["type"] == "float32" else float(table.get("scale", "1")) / 2


# --- (a) our driver, our simulator ----------------------------------------------------------


@pytest.mark.parametrize("name", MODBUS_PROFILES)
def test_driver_reads_the_simulated_meters(name: str) -> None:
    profile = load_profile(name)
    meters = {a: frozen_meter(a, profile) for a in ("1", "17")}
    driver = ModbusDriver(profile)
    with simulated_line(SPEC, meters, profile.line, seed=5) as line:
        for address, meter in meters.items():
            result = driver.read(line.link, address, BOTH)
            state = meter.state()
            assert result.failures == []
            expected = {
                "voltage_v": state.voltage_v,
                "current_a": state.current_a,
                "power_w": state.power_w,
                "power_factor": state.power_factor,
                "energy_import_kwh": state.energy_import_kwh,
            }
            if "frequency_hz" in profile.values:
                expected["frequency_hz"] = state.frequency_hz
            for value, want in expected.items():
                got = result.values[value]
                assert got == pytest.approx(want, rel=1e-6, abs=step(profile, value) + 1e-9), value
            assert state.power_w == HEATER_W
            assert result.supply_on is (True if profile.supply else None)
        # one request per batch and one for the supply state, per meter (counted by the server
        # before it answers, so the count is complete once the last reply has been read)
        per_meter = len(driver.map.batches) + (1 if profile.supply else 0)
        assert line.server.requests == per_meter * len(meters)


@pytest.mark.parametrize("name", ["hiking-dds238", "acrel-ddsy1352"])
def test_relay_switches_off_and_on_with_read_back(name: str) -> None:
    profile = load_profile(name)
    meters = {"5": frozen_meter("5", profile), "6": frozen_meter("6", profile)}
    driver = ModbusDriver(profile)
    with simulated_line(SPEC, meters, profile.line, seed=5) as line:
        driver.set_supply(line.link, "5", on=False)
        assert driver.read_supply(line.link, "5") is False
        off = driver.read(line.link, "5", frozenset({"fast", SUPPLY_GROUP}))
        assert off.supply_on is False
        assert off.values["power_w"] == 0.0
        assert meters["5"].state().power_w == 0.0
        neighbour = driver.read(line.link, "6", frozenset({"fast", SUPPLY_GROUP}))
        assert neighbour.supply_on is True  # only the addressed meter switched
        assert neighbour.values["power_w"] == pytest.approx(HEATER_W, abs=1)
        driver.set_supply(line.link, "5", on=True)
        assert driver.read_supply(line.link, "5") is True
        on = driver.read(line.link, "5", frozenset({"fast", SUPPLY_GROUP}))
        assert on.values["power_w"] == pytest.approx(HEATER_W, abs=1)


# --- (b) our driver, pymodbus's server --------------------------------------------------------

# Values put into pymodbus's datastore, as the meters' public register maps lay them out.
SDM120_UNIT = 1
HIKING_UNIT = 2
SDM120 = {0x0000: 229.7, 0x0006: 4.25, 0x000C: 962.5, 0x001E: 0.985, 0x0046: 49.98, 0x0048: 1234.5}
HIKING = {
    "import": (0x000A, 123456),  # 1234.56 kWh in 0.01 kWh, uint32
    "voltage": (0x000C, 2311),  # 231.1 V in 0.1 V
    "current": (0x000D, 512),  # 5.12 A in 0.01 A
    "power": (0x000E, 1180),  # W, int16
    "power_factor": (0x0010, 997),  # 0.997
    "frequency": (0x0011, 5002),  # 50.02 Hz
}


def _sdm120_input_registers() -> list[SimData]:
    """Input registers 0x0000-0x0049: the floats at their addresses, every gap a plain 0."""
    blocks: list[SimData] = []
    address = 0
    for start, value in sorted(SDM120.items()):
        if start > address:
            blocks.append(
                SimData(address, count=start - address, values=0, datatype=DataType.REGISTERS)
            )
        blocks.append(SimData(start, values=value, datatype=DataType.FLOAT32))
        address = start + 2
    return blocks


def _hiking_holding_registers() -> list[SimData]:
    return [
        SimData(0x0000, count=10, values=0, datatype=DataType.REGISTERS),
        SimData(0x000A, values=HIKING["import"][1], datatype=DataType.UINT32),
        SimData(
            0x000C, values=[HIKING[k][1] for k in ("voltage", "current")], datatype=DataType.UINT16
        ),
        SimData(0x000E, values=HIKING["power"][1], datatype=DataType.INT16),
        SimData(0x000F, values=0, datatype=DataType.INT16),  # reactive power
        SimData(
            0x0010,
            values=[HIKING[k][1] for k in ("power_factor", "frequency")],
            datatype=DataType.UINT16,
        ),
        SimData(0x0012, count=8, values=0, datatype=DataType.REGISTERS),
        SimData(0x001A, values=1, datatype=DataType.UINT16),  # relay: 1 = on
    ]


def _unused_bits() -> list[SimData]:
    return [SimData(0, values=[False] * 16, datatype=DataType.BITS)]


def pymodbus_devices() -> list[SimDevice]:
    """Two meters on one line; each keeps coils, inputs, holding and input registers apart
    (the non-shared layout), so FC03 and FC04 at the same address reach different blocks."""
    sdm120 = SimDevice(
        id=SDM120_UNIT,
        simdata=(
            _unused_bits(),
            _unused_bits(),
            [SimData(0, values=0, datatype=DataType.UINT16)],
            _sdm120_input_registers(),
        ),
    )
    hiking = SimDevice(
        id=HIKING_UNIT,
        simdata=(
            _unused_bits(),
            _unused_bits(),
            _hiking_holding_registers(),
            [SimData(0, values=0, datatype=DataType.UINT16)],
        ),
    )
    return [sdm120, hiking]


@contextlib.contextmanager
def pymodbus_running(make_server: Callable[[], ModbusBaseServer]) -> Iterator[None]:
    """Run a pymodbus server (made inside its own event loop, on a thread) until the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: list[ModbusBaseServer] = []
    errors: list[BaseException] = []

    async def serve() -> None:
        server = make_server()
        holder.append(server)
        await server.serve_forever(background=True)
        started.set()
        await server.serving

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported by the test, never lost in the thread
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=run, name="pymodbus-server")
    try:
        thread.start()
        assert started.wait(10), "pymodbus's server did not start"
        assert not errors, errors
        yield
    finally:
        if holder:
            shutdown = holder[0].shutdown()  # type: ignore[no-untyped-call]
            asyncio.run_coroutine_threadsafe(shutdown, loop).result(timeout=5)
        thread.join(timeout=5)
        assert not thread.is_alive(), "pymodbus's server thread did not stop"
        loop.close()
    assert not errors, errors


@contextlib.contextmanager
def pymodbus_line(line: LineSettings) -> Iterator[Link]:
    """pymodbus's RTU serial server on one end of a pty pair; a Link of ours on the other."""
    console, far_end, close_ptys = pty_pair()
    port: serial.Serial | None = None

    def make_server() -> ModbusBaseServer:
        return ModbusSerialServer(
            pymodbus_devices(),
            framer=FramerType.RTU,
            port=far_end,
            baudrate=line.baudrate,
            bytesize=8,
            parity="N",
            stopbits=1,
        )

    try:
        with pymodbus_running(make_server):
            port = open_pty_port(console, line)
            yield Link(port, line)
    finally:
        if port is not None:
            port.close()
        close_ptys()


def free_local_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def pymodbus_gateway(line: LineSettings) -> Iterator[Link]:
    """pymodbus's Modbus TCP server on the loopback interface, reached as a
    ``modbus-tcp://`` gateway through our transport (MBAP framing)."""
    tcp_port = free_local_port()

    def make_server() -> ModbusBaseServer:
        return ModbusTcpServer(pymodbus_devices(), address=("127.0.0.1", tcp_port))

    with pymodbus_running(make_server):
        link = open_link(f"modbus-tcp://127.0.0.1:{tcp_port}", line)
        try:
            yield link
        finally:
            link.close()


def test_sdm120_map_against_pymodbus_input_registers() -> None:
    profile = load_profile("eastron-sdm120")
    driver = ModbusDriver(profile)
    line = LineSettings(baudrate=profile.line.baudrate, timeout_s=1.0)
    with pymodbus_line(line) as link:
        result = driver.read(link, str(SDM120_UNIT), BOTH)
    assert result.failures == []
    expected = {
        "voltage_v": SDM120[0x0000],
        "current_a": SDM120[0x0006],
        "power_w": SDM120[0x000C],
        "power_factor": SDM120[0x001E],
        "frequency_hz": SDM120[0x0046],
        "energy_import_kwh": SDM120[0x0048],
    }
    assert result.values == pytest.approx(expected, rel=1e-6)  # float32 of what was stored


def test_hiking_map_and_relay_against_pymodbus_holding_registers() -> None:
    profile = load_profile("hiking-dds238")
    driver = ModbusDriver(profile)
    line = LineSettings(baudrate=profile.line.baudrate, timeout_s=1.0)
    unit = str(HIKING_UNIT)
    with pymodbus_line(line) as link:
        result = driver.read(link, unit, BOTH)
        assert result.failures == []
        assert result.values == {
            "energy_import_kwh": 1234.56,
            "voltage_v": 231.1,
            "current_a": 5.12,
            "power_w": 1180.0,
            "power_factor": 0.997,
            "frequency_hz": 50.02,
        }
        assert result.supply_on is True
        driver.set_supply(link, unit, on=False)  # FC16 to 0x001A, stored by pymodbus
        assert driver.read_supply(link, unit) is False
        driver.set_supply(link, unit, on=True)
        assert driver.read_supply(link, unit) is True
        # the other meter on the line has no holding register 0x001A: pymodbus refuses
        with pytest.raises(FieldFault, match="illegal data address"):
            driver.read_supply(link, str(SDM120_UNIT))


def test_both_maps_through_a_modbus_tcp_gateway() -> None:
    """The same two meters behind pymodbus's Modbus TCP server: our MBAP frames, its parser."""
    sdm120 = ModbusDriver(load_profile("eastron-sdm120"))
    hiking = ModbusDriver(load_profile("hiking-dds238"))
    with pymodbus_gateway(LineSettings(timeout_s=1.0)) as link:
        assert link.mbap
        energy = sdm120.read(link, str(SDM120_UNIT), frozenset({"slow"}))
        assert energy.values == {"energy_import_kwh": pytest.approx(SDM120[0x0048], rel=1e-6)}
        fast = hiking.read(link, str(HIKING_UNIT), frozenset({"fast", SUPPLY_GROUP}))
        assert fast.failures == []
        assert fast.values["voltage_v"] == 231.1
        assert fast.values["power_w"] == 1180.0
        hiking.set_supply(link, str(HIKING_UNIT), on=False)
        assert hiking.read_supply(link, str(HIKING_UNIT)) is False


# --- (c) a noisy line --------------------------------------------------------------------------


def test_a_noisy_line_still_reads_every_healthy_meter() -> None:
    """10% of replies lost and 10% corrupted on every meter, one meter dead: polling with the bus
    worker's bounded retry still reads every healthy meter, never a garbled value, and the dead
    one never stalls the rest. Runs on an in-process ``sim://`` line (paced at the baud rate),
    so the many timeouts of this test cost no pty round trips."""
    profile = load_profile("hiking-dds238")
    healthy = [str(n) for n in range(1, 5)]
    meters = {a: frozen_meter(a, profile, reply_delay_s=0.002) for a in [*healthy, "9"]}
    for meter in meters.values():
        meter.faults = SimFaults(no_reply=0.1, corrupt=0.1)
    meters["9"].faults = SimFaults(dead=True)
    settings = LineSettings(baudrate=115200, timeout_s=0.05)
    driver = ModbusDriver(profile)
    polls, attempts = 15, 3
    complete: dict[str, int] = dict.fromkeys(healthy, 0)
    seen: list[str] = []
    register_line(SimLineOfMeters("modbus-noisy", [Answerer(SPEC, meters, seed=7)]))
    link = open_link("sim://modbus-noisy", settings)
    try:
        for _ in range(polls):
            for address in [*healthy, "9"]:
                for _attempt in range(attempts if address != "9" else 1):
                    try:
                        result = driver.read(link, address, BOTH)
                    except FieldFault as exc:
                        seen.append(type(exc).__name__)
                        continue
                    seen.extend(result.failures)
                    # whatever came through is right: corrupted replies never become values
                    assert result.values.get("power_w", HEATER_W) == pytest.approx(HEATER_W, abs=1)
                    assert result.values.get("voltage_v", 217.0) == pytest.approx(217.0, abs=0.1)
                    if not result.failures:
                        complete[address] += 1
                        break
    finally:
        link.close()
        unregister_line("modbus-noisy")
    assert all(count >= polls // 2 for count in complete.values()), complete
    assert seen.count("NoReply") >= polls  # the dead meter: every poll of it timed out
    assert any("CRC" in entry or entry == "ChecksumError" for entry in seen)  # corrupted
    assert any("no reply" in entry or entry == "NoReply" for entry in seen)  # lost
